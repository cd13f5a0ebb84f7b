# Copyright (c) mmfa contributors. All rights reserved.
import uuid
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mmfa  # noqa: F401  (fixes mmengine checkpoint loading on this torch)
from mmfa.engine.hooks import FeatureBankHook
from mmfa.models.augmenters import MaskFA, NearestNeighborFA
from mmfa.registry import HOOKS
from tests.utils import vector_dataset
from tests.utils.log_capture import capture_current_log

BANK_SIZE = 5  # not a multiple of the batch (2): the ring wraps


class _TinyBankModel(BaseModel):
    """A projector, an NN FA owning a FeatureBank, enqueuing as a real model does."""

    def __init__(self, bank_size=BANK_SIZE):
        super().__init__()
        self.proj = nn.Linear(4, 3)
        self.fa = NearestNeighborFA(
            topk=1, bank=dict(type='FeatureBank', size=bank_size, dim=3))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        z = self.proj(inputs)
        if mode != 'loss':
            return z
        pos = self.fa(F.normalize(z, dim=1).detach())  # query first ...
        loss = -(F.normalize(z, dim=1).unsqueeze(1) * pos).sum(2).mean()
        self.fa.bank.enqueue(z)  # ... then enqueue this step's positives
        return dict(loss=loss)


class _Recorder(Hook):
    """Runs after FeatureBankHook and records what each iteration's loss saw."""
    priority = 'LOWEST'

    def __init__(self):
        self.before = []
        self.after = []

    def before_train(self, runner):
        self.bank = runner.model.fa.bank
        self.at_start = (runner.iter, self.bank.query_enabled)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.before.append((runner.iter, self.bank.query_enabled,
                            int(self.bank.num_written)))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.after.append(int(self.bank.num_written))


def _runner(work_dir, hooks, model=None, **kwargs):
    return Runner(
        model=model or _TinyBankModel(),
        work_dir=str(work_dir),
        experiment_name=f'fbhook-{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=vector_dataset(8, 4),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=3),
        custom_hooks=hooks,
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmfa',
        randomness=dict(seed=0),
        **kwargs)


def test_runner_training_and_checkpoint_resume(tmp_path):
    recorder = _Recorder()
    runner = _runner(tmp_path / 'a',
                     [dict(type='FeatureBankHook', warmup_iters=2), recorder])
    runner.train()
    bank = runner.model.fa.bank
    # the loss of iteration t only saw the features of iterations < t
    assert recorder.before == [(0, False, 0), (1, False, 2), (2, True, 4)]
    assert recorder.after == [2, 4, 5]
    assert int(bank.ptr) == 6 % BANK_SIZE and int(bank.num_written) == BANK_SIZE
    # the written rows are the l2-normalised projections (of the params of their
    # iteration); the ring wrapped: slot 0 holds the 6th sample
    assert torch.allclose(bank.feats.norm(dim=1), torch.ones(BANK_SIZE))
    hub = runner.message_hub
    assert hub.get_scalar('train/bank/fill_ratio').current() == 1.0
    top1 = hub.get_scalar('train/bank/top1_sim').current()
    assert top1 == pytest.approx(bank.last_top1_sim) and -1 <= top1 <= 1
    assert len(hub.get_scalar('train/bank/top1_sim').data[0]) == 1  # queried once
    ckpt = tmp_path / 'ckpt.pth'
    runner.save_checkpoint(str(tmp_path), 'ckpt.pth')
    saved = {k: v.clone() for k, v in bank.state_dict().items()}

    recorder2 = _Recorder()
    resumed = _runner(tmp_path / 'b',
                      [dict(type='FeatureBankHook', warmup_iters=2), recorder2],
                      load_from=str(ckpt),
                      resume=True)
    resumed.train()  # resumes at iter 3 == max_iters: restores, trains nothing
    bank2 = resumed.model.fa.bank
    assert bank2 is not bank
    assert torch.equal(bank2.feats, saved['feats'])
    assert int(bank2.ptr) == int(saved['ptr']) == 1
    assert int(bank2.num_written) == int(saved['num_written']) == BANK_SIZE
    # the warm-up switch follows the restored iteration, not a fresh start
    assert recorder2.at_start == (3, True)


def test_the_model_writes_its_bank_without_the_hook(tmp_path):
    """The training loss enqueues; the hook only adds the warm-up and the log."""
    runner = _runner(tmp_path, [])
    runner.train()
    bank = runner.model.fa.bank
    assert int(bank.ptr) == 6 % BANK_SIZE and int(bank.num_written) == BANK_SIZE
    assert bank.num_received == 6
    assert 'train/bank/fill_ratio' not in runner.message_hub.log_scalars


def _fake_runner(model, it=0):
    return SimpleNamespace(
        model=model,
        iter=it,
        message_hub=MessageHub.get_instance(f'fbhook-{uuid.uuid4().hex}'))


def test_warmup_switch_and_log_interval():
    model = nn.ModuleDict(
        dict(a=NearestNeighborFA(bank=dict(type='FeatureBank', size=10, dim=3)),
             b=NearestNeighborFA(bank=dict(type='FeatureBank', size=4, dim=3))))
    hook = HOOKS.build(dict(type='FeatureBankHook', warmup_iters=2, log_interval=2))
    assert isinstance(hook, FeatureBankHook)
    runner = _fake_runner(model)
    hook.before_train(runner)
    banks = [model['a'].bank, model['b'].bank]
    assert [b.query_enabled for b in banks] == [False, False]
    enabled = []
    for it in range(3):
        runner.iter = it
        for bank in banks:
            bank.enqueue(torch.randn(3, 3))  # the model's training loss
        hook.after_train_iter(runner, it)
        enabled.append(banks[0].query_enabled)
    assert enabled == [False, True, True]  # queried from iteration 2 on
    assert int(banks[0].num_written) == 9 and int(banks[1].num_written) == 4
    hub = runner.message_hub
    # log_interval=2: updated after iteration 1 only (iterations 0..2)
    assert hub.get_scalar('train/bank0/fill_ratio').data[0].tolist() == [0.6]
    assert hub.get_scalar('train/bank1/fill_ratio').data[0].tolist() == [1.0]
    assert 'train/bank0/top1_sim' not in hub.log_scalars  # never queried


def test_unwraps_model_wrappers():
    model = NearestNeighborFA(bank=dict(type='FeatureBank', size=4, dim=3))
    hook = FeatureBankHook(warmup_iters=5)
    hook.before_train(_fake_runner(nn.DataParallel(model), it=5))
    assert model.bank.query_enabled
    hook.before_train(_fake_runner(nn.DataParallel(model), it=4))
    assert not model.bank.query_enabled


def test_model_without_bank_is_an_error():
    hook = FeatureBankHook()
    with pytest.raises(RuntimeError, match='has no FeatureBank') as err:
        hook.before_train(_fake_runner(nn.Sequential(MaskFA())))
    assert 'remove FeatureBankHook' in str(err.value)
    # As mmfa's pre-training runtime adds it: idle for a model without a bank.
    idle = FeatureBankHook(require_bank=False)
    runner = _fake_runner(nn.Sequential(MaskFA()))
    idle.before_train(runner)
    idle.after_train_iter(runner, 0)
    assert 'train/bank/fill_ratio' not in runner.message_hub.log_scalars


def test_warns_when_the_model_never_enqueues():
    model = NearestNeighborFA(bank=dict(type='FeatureBank', size=4, dim=3))
    hook = FeatureBankHook()
    runner = _fake_runner(model)
    with capture_current_log() as messages:
        hook.before_train(runner)
        hook.after_train_iter(runner, 0)
        runner.iter = 1
        hook.after_train_iter(runner, 1)
    assert sum('received no features' in m for m in messages) == 1


@pytest.mark.parametrize('kwargs', [dict(warmup_iters=-1), dict(log_interval=0)])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        FeatureBankHook(**kwargs)


def test_resume_with_another_bank_size_is_refused(tmp_path):
    from mmfa.utils import CheckpointError
    runner = _runner(tmp_path / 'a', [dict(type='FeatureBankHook')])
    runner.train()
    runner.save_checkpoint(str(tmp_path), 'ckpt.pth')
    ckpt = str(tmp_path / 'ckpt.pth')
    proj = runner.model.proj.weight.detach().clone()

    # --resume: the pointer and written count belong to a 5-entry bank; mmengine
    # alone would skip the feats tensor, restore them and report 5 written rows
    # of zeros.
    resumed = _runner(tmp_path / 'b', [dict(type='FeatureBankHook')],
                      model=_TinyBankModel(bank_size=8), load_from=ckpt,
                      resume=True)
    with pytest.raises(CheckpointError,
                       match=r'Cannot resume: the feature bank fa.bank of the '
                       r"checkpoint holds 5 x 3 entries but the model's holds "
                       r'8 x 3.*bank=dict\(size=5'):
        resumed.train()

    # load_from (weights only): the weights load, the bank starts empty
    fresh = _runner(tmp_path / 'c', [dict(type='FeatureBankHook')],
                    model=_TinyBankModel(bank_size=8))
    with capture_current_log() as log:
        fresh.load_checkpoint(ckpt)
    bank = fresh.model.fa.bank
    assert int(bank.num_written) == 0 and bank.written_entries == 0
    assert int(bank.ptr) == 0 and not bank.feats.any()
    assert torch.equal(fresh.model.proj.weight, proj)
    assert any('starting with an empty bank' in m for m in log)


def test_a_bank_smaller_than_the_neighbours_fails_at_build():
    from mmfa.models.augmenters import MixupNoiseFA
    small = dict(type='FeatureBank', size=2, dim=4)
    with pytest.raises(ValueError, match='num_aug=3 neighbours per feature, '
                       'but the feature bank holds at most 2 entries'):
        NearestNeighborFA(num_aug=3, bank=small)
    with pytest.raises(ValueError, match='at most 2 entries'):
        MixupNoiseFA(noise='nn', num_aug=3, bank=small)
    NearestNeighborFA(num_aug=2, bank=small)  # k == size is fine
    MixupNoiseFA(noise='batch', num_aug=3, bank=small)  # no bank used


def test_a_warmup_that_never_ends_is_an_error(tmp_path):
    runner = _runner(tmp_path, [dict(type='FeatureBankHook', warmup_iters=3)])
    with pytest.raises(ValueError, match='warmup_iters=3 but training has only '
                       '3 iterations'):
        runner.train()
