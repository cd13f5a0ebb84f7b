# Copyright (c) mmfa contributors. All rights reserved.
import glob
import json
import logging
import os.path as osp
import random
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmpretrain.models import ClsDataPreprocessor, SelfSupDataPreprocessor
from mmpretrain.structures import DataSample

import mmfa  # noqa: F401  (fixes mmengine checkpoint loading on this torch)
from mmfa.engine.hooks import KNNMonitorHook
from mmfa.registry import HOOKS
from tests.utils.dist import run_distributed

MEAN = [120., 125., 130.]
STD = [50., 60., 70.]
NUM_CLASSES = 3
K = 5
T = 0.1


def _images(num, seed):
    """Small BGR "images" of 3 classes (class = a colour prototype) with noise
    large enough that the kNN is neither perfect nor random."""
    g = torch.Generator().manual_seed(seed)
    protos = torch.tensor([[200., 60., 60.], [60., 200., 60.],
                           [60., 60., 200.]])
    labels = torch.arange(num) % NUM_CLASSES
    x = protos[labels][:, :, None, None] + 150 * torch.randn(
        num, 3, 4, 4, generator=g)
    return x.clamp(0, 255).round(), labels


class _LabelledSet(torch.utils.data.Dataset):
    """mmpretrain-style samples: ``inputs`` (C, H, W) and a DataSample."""

    num_getitem = 0  # per process, over copies (loader configs are copied)

    def __init__(self, num, seed):
        self.x, self.y = _images(num, seed)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        _LabelledSet.num_getitem += 1
        return dict(
            inputs=self.x[i],
            data_samples=DataSample().set_gt_label(int(self.y[i])))


class _Backbone(nn.Module):
    """A ResNet-like tuple output; the stem is frozen (kept in eval mode). Linear
    (in eval mode): the pooled features are an affine map of the mean colour."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 1), nn.BatchNorm2d(8))
        self.layer = nn.Sequential(nn.Conv2d(8, 6, 1), nn.BatchNorm2d(6))

    def forward(self, x):
        a = self.stem(x)
        return (a, self.layer(a))

    def train(self, mode=True):
        super().train(mode)
        if mode:
            self.stem.eval()
        return self


class _TinySelfSup(BaseModel):

    def __init__(self):
        super().__init__(
            data_preprocessor=SelfSupDataPreprocessor(
                mean=MEAN, std=STD, to_rgb=True))
        self.backbone = _Backbone()
        self.head = nn.Linear(6, 4)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = inputs[0] if isinstance(inputs, list) else inputs
        feat = self.backbone(x)[-1].mean((2, 3))
        if mode == 'loss':
            return dict(loss=(self.head(feat) - 1).pow(2).mean())
        return feat


def _loader_cfg(num, seed, batch_size=5):
    return dict(
        dataset=_LabelledSet(num, seed),
        batch_size=batch_size,
        num_workers=0)


def _independent_knn_top1(backbone_state, memory, query):
    """Plain-torch reference: normalise as the model's preprocessor does (BGR->RGB,
    mean/std), GAP of the last output in eval mode, cosine similarities, top-k,
    exp(sim / T) weights, arg-max of the class votes."""
    backbone = _Backbone()
    backbone.load_state_dict(backbone_state)
    backbone.eval()
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)

    def feats(x):
        with torch.no_grad():
            out = backbone((x[:, [2, 1, 0]] - mean) / std)[-1].mean((2, 3))
        return out / out.norm(dim=1, keepdim=True)

    mem, qry = feats(memory.x), feats(query.x)
    sims, idx = (qry @ mem.t()).topk(K + 1, dim=1)
    # no near-tie at the k-th neighbour: float noise cannot change the result
    assert (sims[:, K - 1] - sims[:, K]).min() > 1e-5
    sims, idx = sims[:, :K], idx[:, :K]
    votes = torch.zeros(len(qry), NUM_CLASSES)
    votes.scatter_add_(1, memory.y[idx], (sims / T).exp())
    return (votes.argmax(1) == query.y).float().mean().item() * 100


class _Recorder(Hook):
    """Runs after the monitor: snapshots the weights it evaluated and the modes."""
    priority = 'LOW'

    def __init__(self):
        self.epochs = []

    def after_train_epoch(self, runner):
        model = runner.model
        hub = runner.message_hub
        self.epochs.append(
            dict(
                epoch=runner.epoch + 1,
                state={k: v.clone()
                       for k, v in model.backbone.state_dict().items()},
                top1=hub.get_scalar('knn/top1').current()
                if 'knn/top1' in hub.log_scalars else None,
                modes={n: m.training
                       for n, m in model.named_modules()}))


def _runner(work_dir, hooks, train_cfg, model=None):
    if model is None:
        torch.manual_seed(0)
        model = _TinySelfSup()
    return Runner(
        model=model,
        work_dir=str(work_dir),
        experiment_name=f'knnhook-{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=_LabelledSet(12, seed=7),
            # an infinite sampler for iteration mode: mmengine sleeps 2 s each
            # time a finite one is exhausted in an IterBasedTrainLoop
            sampler=dict(
                type='DefaultSampler'
                if train_cfg.get('by_epoch', True) else 'InfiniteSampler',
                shuffle=True),
            batch_size=4,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=train_cfg,
        custom_hooks=hooks,
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=100)),
        default_scope='mmfa',
        randomness=dict(seed=0))


def _json_lines(runner, name):
    path = osp.join(runner.log_dir, 'vis_data', name)
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_epoch_mode_logs_the_knn_of_the_current_weights(tmp_path):
    memory, query = _loader_cfg(24, seed=1), _loader_cfg(15, seed=2)
    recorder = _Recorder()
    monitor = dict(
        type='KNNMonitorHook',
        train_dataloader=memory,
        val_dataloader=query,
        interval=2,
        k=K,
        temperature=T,
        topk=(1, 5),
        at_start=True)
    runner = _runner(tmp_path, [monitor, recorder],
                     dict(by_epoch=True, max_epochs=4))
    init_state = {
        k: v.clone()
        for k, v in runner.model.backbone.state_dict().items()
    }
    runner.train()

    hub_top1 = runner.message_hub.get_scalar('knn/top1')
    # evaluated at the start and after epochs 2 and 4 (interval=2)
    assert len(hub_top1.data[0]) == 3
    logged = [float(v) for v in hub_top1.data[0]]
    evaluated = [rec for rec in recorder.epochs if rec['epoch'] in (2, 4)]
    states = [init_state] + [rec['state'] for rec in evaluated]
    expected = [
        _independent_knn_top1(s, memory['dataset'], query['dataset'])
        for s in states
    ]
    assert logged == pytest.approx(expected, abs=1e-4)
    assert any(0 < v < 100 for v in logged)  # a discriminating check
    assert [rec['top1'] for rec in recorder.epochs] == pytest.approx(
        [logged[0], logged[1], logged[1], logged[2]])
    # top5 >= number of classes: every query counts
    assert runner.message_hub.get_scalar('knn/top5').current() == 100.0

    # in the json scalars (both files of LocalVisBackend), at the finished
    # iterations (3 per epoch), the same values
    for name in ('scalars.json', f'{runner.timestamp}.json'):
        lines = [
            line for line in _json_lines(runner, name) if 'knn/top1' in line
        ]
        assert [(line['epoch'], line['iter'], line['step'])
                for line in lines] == [(0, 0, 0), (2, 6, 6), (4, 12, 12)]
        assert [line['knn/top1'] for line in lines] == pytest.approx(logged)
        assert all(line['knn/top5'] == 100.0 for line in lines)
    # and a log line
    log_file = glob.glob(osp.join(runner.log_dir, '*.log'))[0]
    with open(log_file) as f:
        log = f.read()
    assert log.count('Epoch(knn)') == 3
    assert f'knn/top1: {logged[-1]:.4f}' in log
    # the train log lines do not repeat the (stale) value
    train_lines = [
        line for line in _json_lines(runner, 'scalars.json') if 'loss' in line
    ]
    assert len(train_lines) == 12
    assert not any(k.startswith('knn') for line in train_lines for k in line)

    # modes after every evaluation: train, except the frozen stem
    for rec in recorder.epochs:
        for name, training in rec['modes'].items():
            assert training == (not name.startswith('backbone.stem')), name


def test_iteration_mode_interval(tmp_path):
    hook = KNNMonitorHook(
        train_dataloader=_loader_cfg(12, seed=1),
        val_dataloader=_loader_cfg(6, seed=2),
        interval=3,
        by_epoch=False,
        k=K,
        prefix='monitor')
    runner = _runner(tmp_path, [hook], dict(by_epoch=False, max_iters=7))
    runner.train()
    assert len(runner.message_hub.get_scalar('monitor/top1').data[0]) == 2
    lines = [
        line for line in _json_lines(runner, 'scalars.json')
        if 'monitor/top1' in line
    ]
    assert [(line['iter'], line['step']) for line in lines] == [(3, 3), (6, 6)]
    assert all('epoch' not in line for line in lines)
    with open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]) as f:
        log = f.read()
    assert 'Iter(knn) [3]' in log and 'Iter(knn) [6]' in log


def test_direct_call_leaves_the_training_state_untouched(tmp_path):
    model = _TinySelfSup()
    runner = _runner(
        tmp_path, [], dict(by_epoch=True, max_epochs=1), model=model)
    # BN statistics and gradients of two training forward/backward passes
    from mmengine.dataset import default_collate
    dataset = _LabelledSet(8, seed=3)
    batch = default_collate([dataset[i] for i in range(8)])
    model.train()
    for _ in range(2):
        data = model.data_preprocessor(batch, True)
        model(**data, mode='loss')['loss'].backward()
    model.train()
    model.backbone.layer[1].eval()  # a BN deliberately left in eval mode
    modes = {n: m.training for n, m in model.named_modules()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    assert all(g.abs().sum() > 0 for g in grads.values())
    rng = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    calls = []
    model.data_preprocessor.register_forward_hook(
        lambda *args: calls.append(1))  # the model's own must not be called

    hook = HOOKS.build(
        dict(
            type='KNNMonitorHook',
            train_dataloader=_loader_cfg(12, seed=1),
            val_dataloader=_loader_cfg(6, seed=2),
            interval=1,
            k=K))
    hook.after_train_epoch(runner)

    assert len(runner.message_hub.get_scalar('knn/top1').data[0]) == 1
    assert {n: m.training for n, m in model.named_modules()} == modes
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k  # params and BN buffers, bitwise
    for n, p in model.named_parameters():
        assert torch.equal(p.grad, grads[n]), n
    assert torch.equal(torch.get_rng_state(), rng[0])
    assert all(np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
               for a, b in zip(np.random.get_state(), rng[1]))
    assert random.getstate() == rng[2]
    assert not calls
    # a plain classification preprocessor with the model's normalisation
    pre = hook._preprocessor
    assert type(pre) is ClsDataPreprocessor
    assert pre.to_rgb and pre.mean.flatten().tolist() == MEAN
    assert pre.std.flatten().tolist() == STD


def test_max_samples_resume_and_argument_checks():
    hook = KNNMonitorHook(
        train_dataloader=_loader_cfg(12, seed=1),
        val_dataloader=_loader_cfg(6, seed=2),
        max_samples=4,
        at_start=True)
    hub = MessageHub.get_instance(f'knn-{uuid.uuid4().hex}')
    hook.before_train(SimpleNamespace(seed=0, iter=5, message_hub=hub))
    assert 'knn/top1' not in hub.log_scalars  # at_start: not when resuming
    memory_loader = hook._loaders[0]
    assert list(memory_loader.sampler) == [0, 3, 6, 9]  # evenly spaced
    with pytest.raises(ValueError, match='interval'):
        KNNMonitorHook(_loader_cfg(3, 0), _loader_cfg(3, 0), interval=0)
    with pytest.raises(ValueError, match='temperature'):
        KNNMonitorHook(_loader_cfg(3, 0), _loader_cfg(3, 0), temperature=0)
    with pytest.raises(ValueError, match='dataset'):
        KNNMonitorHook(dict(batch_size=2), _loader_cfg(3, 0))


class _StubVisualizer:

    def __init__(self):
        self.scalars = []

    def add_scalars(self, scalars, step=0, **kwargs):
        self.scalars.append((scalars, step))


def _two_rank_monitor(rank, world_size):
    memory, query = _loader_cfg(12, seed=1), _loader_cfg(6, seed=2)
    _LabelledSet.num_getitem = 0
    torch.manual_seed(0)
    model = _TinySelfSup()  # the same weights on both ranks, as under DDP
    runner = SimpleNamespace(
        model=model,
        iter=3,
        epoch=0,
        seed=0,
        timestamp='t',
        message_hub=MessageHub.get_instance(f'knn-{uuid.uuid4().hex}'),
        visualizer=_StubVisualizer(),
        logger=MMLogger.get_instance(
            f'knn-{uuid.uuid4().hex}', log_level=logging.WARNING))
    hook = KNNMonitorHook(memory, query, interval=1, k=K)
    hook.before_train(runner)
    hook.after_train_epoch(runner)
    bad = KNNMonitorHook(memory, query, feature_module='nope')
    with pytest.raises((AttributeError, RuntimeError)) as err:
        bad.after_train_epoch(runner)
    return dict(
        top1=float(runner.message_hub.get_scalar('knn/top1').current()),
        getitems=_LabelledSet.num_getitem,
        error=type(err.value).__name__)


def test_two_ranks_extract_on_rank0_and_log_the_same_value(tmp_path):
    res = run_distributed(_two_rank_monitor, tmp_path, world_size=2)
    assert res[0]['top1'] == res[1]['top1']
    assert res[0]['getitems'] == 18 and res[1]['getitems'] == 0
    # rank 0 raises its error, the other rank is told instead of hanging
    assert res[0]['error'] == 'AttributeError'
    assert res[1]['error'] == 'RuntimeError'
