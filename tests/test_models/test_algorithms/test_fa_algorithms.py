# Copyright (c) mmfa contributors. All rights reserved.
"""The FA algorithms pair exactly the tensors of docs/design.md §6-7 and compute
eq. 1/2."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

import mmfa.models  # noqa: F401
from mmfa.models.augmenters import BaseFeatureAugmenter
from mmfa.registry import MODELS

BN = dict(type='BN')
BN1D = dict(type='BN1d')
LAYOUTS = ['BasicFA', 'ParallelPredictorFA', 'PostPredictorFA',
           'PrePredictorFA']
FA_METHODS = {
    'none': None,
    'mask': dict(type='MaskFA', ratio=0.2),
    'nn': dict(type='NearestNeighborFA', bank=dict(type='FeatureBank',
                                                   size=64, dim=32)),
    'nn_noise': dict(type='MixupNoiseFA', noise='nn',
                     bank=dict(type='FeatureBank', size=64, dim=32)),
    'batch_noise': dict(type='MixupNoiseFA', noise='batch'),
    'gaussian': dict(type='MixupNoiseFA', noise='gaussian'),
}


class RecordingFA(BaseFeatureAugmenter):
    """Test augmenter: remembers its input, returns scale_j * input per copy."""

    def __init__(self, num_aug=1):
        super().__init__(num_aug=num_aug)
        self.inputs = []

    def augment(self, feats):
        self.inputs.append(feats.detach().clone())
        scales = torch.arange(1, self.num_aug + 1, dtype=feats.dtype) * 0.5
        return feats.unsqueeze(1) * scales.view(1, -1, 1) + 0.1


def id_cfg(layout, augmenter=None, **head_kwargs):
    cfg = dict(
        type=layout,
        backbone=dict(type='ResNet', depth=18, norm_cfg=BN),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=64,
                  out_channels=32, num_layers=3, with_last_bn=True,
                  norm_cfg=BN1D),
        head=dict(type='FAContrastiveHead', augmenter=augmenter,
                  temperature=0.2, **head_kwargs))
    if layout != 'BasicFA':
        cfg['predictor'] = dict(type='NonLinearNeck', in_channels=32,
                                hid_channels=64, out_channels=32,
                                num_layers=2, with_last_bn=False,
                                with_avg_pool=False, norm_cfg=BN1D)
    return cfg


def byol_cfg(augmenter=None, type='FABYOL', **head_kwargs):
    head = dict(type='FALatentPredictHead' if type == 'FABYOL' else
                'LatentPredictHead',
                loss=dict(type='CosineSimilarityLoss'),
                predictor=dict(type='NonLinearNeck', in_channels=32,
                               hid_channels=64, out_channels=32,
                               num_layers=2, with_last_bn=False,
                               with_avg_pool=False, norm_cfg=BN1D))
    if type == 'FABYOL':
        head.update(augmenter=augmenter, **head_kwargs)
    cfg = dict(type=type,
               backbone=dict(type='ResNet', depth=18, norm_cfg=BN),
               neck=dict(type='NonLinearNeck', in_channels=512,
                         hid_channels=64, out_channels=32, num_layers=2,
                         with_avg_pool=True, norm_cfg=BN1D),
               head=head)
    if type == 'FABYOL':
        cfg['target_decay'] = 0.99
    else:
        cfg['base_momentum'] = 0.01
    return cfg


def views(n=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]


def nce(a, b, tau=0.2):
    """Independent eq. 1: python loops over l2-normalised rows."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    total = 0.
    for i in range(a.shape[0]):
        logits = [float(a[i] @ b[k]) / tau for k in range(b.shape[0])]
        m = max(logits)
        lse = m + math.log(sum(math.exp(x - m) for x in logits))
        total += lse - logits[i]
    return total / a.shape[0]


@pytest.fixture(autouse=True)
def _hub():
    # mmpretrain's BaseSelfSupervisor builds its parts with mmpretrain's registry,
    # which finds mmfa's modules under the 'mmfa' default scope (as in a Runner).
    from mmfa.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    MessageHub.get_current_instance().update_info('max_iters', 100)
    MessageHub.get_current_instance().update_info('iter', 0)


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.train()
    return model


def latents(model, x):
    z = [model.project(v) for v in x]
    p = [model.predict_latent(v) for v in z] if model.predictor else None
    return z, p


@pytest.mark.parametrize('layout', LAYOUTS)
def test_no_fa_one_sided_equals_eq1(layout):
    model = build(id_cfg(layout, symmetric=False))
    x = views(n=4)
    with torch.no_grad():
        loss = model.loss(x, None)['loss']
        z, p = latents(model, x)
    anchor = z[0] if layout == 'BasicFA' else p[0]
    assert float(loss) == pytest.approx(nce(anchor, z[1]), abs=1e-6)


@pytest.mark.parametrize('layout', LAYOUTS)
def test_layout_pairs_the_spec_tensors(layout):
    model = build(id_cfg(layout, symmetric=True))
    model.head.augmenter = RecordingFA(num_aug=2)
    x = views(n=4)
    with torch.no_grad():
        loss = float(model.loss(x, None)['loss'])
        z, p = latents(model, x)
    rec = model.head.augmenter.inputs
    assert len(rec) == 2  # one FA call per direction

    def fa(t):
        return torch.stack([F.normalize(t, dim=-1) * s + 0.1
                            for s in (0.5, 1.0)], dim=1)

    expected = []
    for a, b in ((0, 1), (1, 0)):
        if layout == 'BasicFA':
            torch.testing.assert_close(rec[a], F.normalize(z[b], dim=-1))
            terms = [nce(z[a], z[b])] + [nce(z[a], fa(z[b])[:, j])
                                         for j in range(2)]
        elif layout == 'ParallelPredictorFA':
            torch.testing.assert_close(rec[a], F.normalize(z[b], dim=-1))
            terms = [nce(p[a], z[b])] + [nce(p[a], fa(z[b])[:, j])
                                         for j in range(2)]
        elif layout == 'PostPredictorFA':
            torch.testing.assert_close(rec[a], F.normalize(p[a], dim=-1))
            terms = [nce(p[a], z[b])] + [nce(fa(p[a])[:, j], z[b])
                                         for j in range(2)]
        else:  # Pre: pred(||z_i|| * FA(l2(z_i))) against z_i+, one copy per
            # predictor batch (docs/design.md §6.3)
            torch.testing.assert_close(rec[a], F.normalize(z[a], dim=-1))
            scale = z[a].norm(dim=-1, keepdim=True)
            with torch.no_grad():
                pf = [model.predict_latent(fa(z[a])[:, j] * scale)
                      for j in range(2)]
            terms = [nce(p[a], z[b])] + [nce(pf[j], z[b]) for j in range(2)]
        expected.append(sum(terms) / 3)
    assert loss == pytest.approx(sum(expected) / 2, abs=1e-5)


@pytest.mark.parametrize('layout', LAYOUTS + ['FABYOL'])
def test_free_loss_is_k_plus_1_times_average(layout):
    x = views()
    losses = {}
    for free in (False, True):
        kw = dict(augmenter=dict(type='MaskFA', ratio=0.2), num_aug=2,
                  free_loss=free)
        cfg = byol_cfg(**kw) if layout == 'FABYOL' else id_cfg(
            layout, symmetric=False, **kw)
        model = build(cfg, seed=0)
        torch.manual_seed(123)  # seeds the augmenter's generator (first use)
        with torch.no_grad():
            losses[free] = float(model.loss(x, None)['loss'])
    assert losses[True] == pytest.approx(3 * losses[False], rel=1e-5)


@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('stop_grad', [True, False])
def test_stop_grad_blocks_the_positive_branch(layout, stop_grad):
    """One-sided loss: view 2 only enters as the positive z_i+ (and FA(z_i+))."""
    model = build(id_cfg(layout, augmenter=dict(type='MixupNoiseFA',
                                                noise='gaussian'),
                         symmetric=False, stop_grad=stop_grad))
    x = views()
    x[1].requires_grad_(True)
    model.loss(x, None)['loss'].backward()
    grad = x[1].grad
    if stop_grad:
        assert grad is None or float(grad.abs().max()) == 0.
    else:
        assert grad is not None and float(grad.abs().max()) > 0.
    assert float(x[0].grad.abs().max() if x[0].grad is not None else 1) > 0


@pytest.mark.parametrize('num_aug', [1, 3])
def test_pre_predictor_feeds_the_predictor_alike_in_both_branches(num_aug):
    """docs/design.md §6.3: FA acts on l2(z_i) and is rescaled to ||z_i||, and each
    copy is its own predictor batch of N, so with an identity FA (Mask, ratio 0)
    the predictor input of every FA copy equals the original branch's and the FA
    term equals the original term."""
    model = build(id_cfg('PrePredictorFA',
                         augmenter=dict(type='MaskFA', ratio=0.),
                         num_aug=num_aug, symmetric=False))
    seen = []
    model.predictor.register_forward_pre_hook(
        lambda mod, args: seen.append(args[0][0].detach().clone()))
    x = views(n=4)
    with torch.no_grad():
        out = model.loss(x, None)
    # view 1 and view 2 (original branch), then the k FA copies of view 1
    assert len(seen) == 2 + num_aug
    for j in range(num_aug):
        assert seen[2 + j].shape == seen[0].shape
        torch.testing.assert_close(seen[2 + j], seen[0])
    assert float(out['nce_fa']) == pytest.approx(float(out['nce_orig']),
                                                abs=1e-5)
    assert float(out['loss']) == pytest.approx(float(out['nce_orig']),
                                               abs=1e-5)


def test_pre_predictor_without_fa_equals_parallel_predictor():
    """The no-FA Pre-predictor network is the Parallel-predictor one (one
    baseline for the predictor layouts in Table I)."""
    pre = build(id_cfg('PrePredictorFA'))
    par = build(id_cfg('ParallelPredictorFA'))
    par.load_state_dict(pre.state_dict())
    x = views(n=4)
    with torch.no_grad():
        assert float(pre.loss(x, None)['loss']) == pytest.approx(
            float(par.loss(x, None)['loss']), abs=1e-6)


@pytest.mark.parametrize('where', ['head', 'model'])
@pytest.mark.parametrize('value', [True, False])
def test_fa_byol_rejects_stop_grad(where, value):
    """BYOL always stops the gradient (EMA target): the flag is gone and a config
    that still sets it is told why."""
    cfg = byol_cfg(dict(type='MaskFA', ratio=0.2))
    if where == 'head':
        cfg['head']['stop_grad'] = value
    else:
        cfg['stop_grad'] = value
    with pytest.raises(ValueError, match='BYOL always stops the gradient') as e:
        MODELS.build(cfg)
    assert 'EMA' in str(e.value) or 'moving-average' in str(e.value)
    assert 'Remove the stop_grad key' in str(e.value)
    with pytest.raises(ValueError, match='Remove the stop_grad key'):
        MODELS.build(dict(cfg['head'], stop_grad=value))


@pytest.mark.parametrize('method', ['mask', 'batch_noise', 'gaussian'])
def test_fa_byol_gradient_reaches_no_target_parameter(method):
    model = build(byol_cfg(copy.deepcopy(FA_METHODS[method]), num_aug=2,
                           free_loss=True))
    fa_inputs = []
    augment = model.head.augmenter.augment

    def recording(feats):
        fa_inputs.append(feats.requires_grad)
        return augment(feats)

    model.head.augmenter.augment = recording
    model.zero_grad()
    out = model.loss(views(n=4, size=32), None)
    assert float(out['sim_fa']) != 0.
    out['loss'].backward()
    assert fa_inputs == [False, False]  # FA of the (detached) target, both ways
    target = list(model.target_net.parameters())
    assert target and all(not p.requires_grad and p.grad is None
                          for p in target)
    online = [p.grad for p in model.backbone.parameters()]
    assert any(g is not None and float(g.abs().sum()) > 0 for g in online)


def test_byol_identity_fa_equals_mmpretrain_byol():
    ref = build(byol_cfg(type='BYOL'))
    fa_model = build(byol_cfg(augmenter=None))
    fa_model.load_state_dict(ref.state_dict())
    fa_model.head.augmenter = RecordingFA(num_aug=1)
    fa_model.head.augmenter.augment = lambda f: f.unsqueeze(1).clone()
    x = views(n=4)
    with torch.no_grad():
        ref_loss = float(ref.loss(x, None)['loss'])
        fa_loss = float(fa_model.loss(x, None)['loss'])
    assert fa_loss == pytest.approx(ref_loss, abs=1e-6)
    # The target network moved identically (same EMA update).
    for a, b in zip(ref.target_net.parameters(),
                    fa_model.target_net.parameters()):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('method', list(FA_METHODS))
@pytest.mark.parametrize('layout', LAYOUTS + ['FABYOL'])
def test_every_algorithm_and_fa_method_trains(layout, method):
    aug = copy.deepcopy(FA_METHODS[method])
    cfg = byol_cfg(aug) if layout == 'FABYOL' else id_cfg(layout, aug)
    model = build(cfg)
    x = views(n=4, size=32)
    for step in range(2):
        model.zero_grad()
        out = model.loss(x, None)
        assert torch.isfinite(out['loss'])
        out['loss'].backward()
        bank = model.head.feature_bank
        if bank is not None:  # the training loss enqueued the step's positives
            assert int(bank.num_written) == 4 * (step + 1)
    grads = [p.grad for p in model.backbone.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize('layout', ['ParallelPredictorFA', 'FABYOL'])
def test_symmetrised_step_queries_the_bank_before_its_enqueue(layout):
    """Both directions of a symmetrised step query the bank before the step writes
    it (docs/design.md §5). With two identical views the positive of direction 2
    equals the projection the step stores, so a write before the last query would
    make that query return the sample itself (cosine 1)."""
    aug = dict(type='NearestNeighborFA',
               bank=dict(type='FeatureBank', size=64, dim=32))
    model = build(byol_cfg(aug) if layout == 'FABYOL' else id_cfg(layout, aug))
    bank = model.head.feature_bank
    bank.enqueue(torch.randn(8, 32, generator=torch.Generator().manual_seed(5)))
    queried, top1 = [], []
    query = bank.query

    def recording(feats, k, chunk_size=None):
        sims, neighbours = query(feats, k, chunk_size)
        queried.append(feats.detach().clone())
        top1.append(sims[:, 0].clone())
        return sims, neighbours

    bank.query = recording
    img = views(n=4, size=32)[0]
    model.loss([img, img], None)
    assert len(queried) == 2  # one query per direction
    assert all(float(t.max()) < 0.99 for t in top1), top1
    assert int(bank.num_written) == 8 + 4  # one entry per image, once per step
    # the step's write holds the last query's features: written before that
    # query, they would have been its top-1 neighbours
    sims, _ = query(queried[-1], 1)
    torch.testing.assert_close(sims[:, 0], torch.ones(4))


def test_eval_forwards_never_write_the_bank():
    """Only training losses write: a loss or feature extraction in eval mode (as
    validation and KNNMonitorHook run) leaves the bank bitwise unchanged."""
    aug = dict(type='NearestNeighborFA',
               bank=dict(type='FeatureBank', size=64, dim=32))
    model = build(id_cfg('ParallelPredictorFA', aug))
    bank = model.head.feature_bank
    bank.enqueue(torch.randn(8, 32, generator=torch.Generator().manual_seed(6)))
    state = {k: v.clone() for k, v in bank.state_dict().items()}
    x = views(n=4, size=32)
    model.eval()
    with torch.no_grad():
        model.loss(x, None)
        model(x[0], mode='tensor')
    for k, v in bank.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert bank.num_received == 8
    model.train()
    model.loss(x, None)
    assert int(bank.num_written) == 8 + 4


def _ddp_bank_worker(rank, world_size, size, batches, steps):
    """DDP training steps of an NN model with per-rank batch sizes; returns the
    bank and the positive-view projections (view 2's neck output) of each step."""
    from mmengine.optim import OptimWrapper

    from mmfa.engine.wrappers import MMFADistributedDataParallel
    from mmfa.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    MessageHub.get_current_instance().update_info('max_iters', 100)
    aug = dict(type='NearestNeighborFA',
               bank=dict(type='FeatureBank', size=size, dim=32))
    model = build(id_cfg('ParallelPredictorFA', aug))
    positives = []
    model.neck.register_forward_hook(
        lambda mod, inp, out: positives.append(out[0].detach().clone()))
    ddp = MMFADistributedDataParallel(model)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    for step in range(steps):
        x = views(n=batches[rank], size=32, seed=10 * step + rank)
        ddp.train_step(dict(inputs=x, data_samples=None), optim)
    bank = model.head.feature_bank
    # the neck runs on view 1, then view 2 (the positives), every step
    return dict(feats=bank.feats.clone(), ptr=int(bank.ptr),
                num_written=int(bank.num_written), positives=positives[1::2])


def test_ddp_banks_are_identical_and_rank_ordered(tmp_path):
    """Under DDP every rank's training loss enqueues (an all-gather inside the
    forward): after several steps with different per-rank batches every rank
    holds the same bank, the steps' positives in (step, rank) order."""
    from tests.utils.dist import run_distributed
    size, batches, steps = 16, [3, 2], 4  # 20 entries into 16: the ring wraps
    res = run_distributed(_ddp_bank_worker, tmp_path, size=size,
                          batches=batches, steps=steps)
    assert torch.equal(res[0]['feats'], res[1]['feats'])
    rows = [F.normalize(res[rank]['positives'][step][i], dim=0)
            for step in range(steps) for rank in range(2)
            for i in range(batches[rank])]
    expected = torch.zeros(size, 32)
    for j, row in enumerate(rows):
        expected[j % size] = row
    for r in res:
        assert r['ptr'] == len(rows) % size and r['num_written'] == size
        torch.testing.assert_close(r['feats'], expected)


@pytest.mark.parametrize('layout', ['ParallelPredictorFA', 'FABYOL'])
def test_30_step_overfit_lowers_the_loss(layout):
    aug = dict(type='MaskFA', ratio=0.2)
    cfg = byol_cfg(aug) if layout == 'FABYOL' else id_cfg(layout, aug)
    model = build(cfg)
    x = views(n=16, size=32, seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for it in range(30):
        MessageHub.get_current_instance().update_info('iter', it)
        opt.zero_grad()
        loss = model.loss(x, None)['loss']
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.05, losses


def test_layout_config_errors():
    with pytest.raises(ValueError, match='needs a predictor'):
        cfg = id_cfg('ParallelPredictorFA')
        cfg.pop('predictor')
        MODELS.build(cfg)
    with pytest.raises(ValueError, match='has no predictor'):
        cfg = id_cfg('BasicFA')
        cfg['predictor'] = id_cfg('ParallelPredictorFA')['predictor']
        MODELS.build(cfg)
    with pytest.raises(ValueError, match='set k in one place'):
        MODELS.build(id_cfg('BasicFA', augmenter=dict(
            type='MaskFA', num_aug=2), num_aug=1))
