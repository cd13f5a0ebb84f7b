# Copyright (c) mmfa contributors. All rights reserved.
"""FA on MoCo v2 and SimSiam (docs/design.md §15): with FA off each equals
mmpretrain's own loss on the same weights and inputs; with FA on, the terms are
checked against independent computations. AsymmetricFABYOL computes MSF's loss."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub

import mmfa.models  # noqa: F401
from mmfa.models.augmenters import BaseFeatureAugmenter
from mmfa.models.memories import FeatureBank
from mmfa.registry import MODELS

BN = dict(type='BN')
BN1D = dict(type='BN1d')
MODES = [dict(), dict(free_loss=True), dict(fa_mode='replace'),
         dict(fa_mode='average')]


class ShiftFA(BaseFeatureAugmenter):
    """Deterministic test augmenter: copy j = f * (j + 2) / 2 + (j + 1) / 10."""

    def augment(self, feats):
        j = torch.arange(self.num_aug, dtype=feats.dtype).view(1, -1, 1)
        return feats.unsqueeze(1) * (j + 2) / 2 + (j + 1) / 10


def shift_copies(f, copies):
    f = f / f.norm(dim=1, keepdim=True)
    return [f * (j + 2) / 2 + (j + 1) / 10 for j in range(copies)]


def combine(orig, fa, mode):
    """The §3 / §15 combination, written out."""
    if mode.get('fa_mode') == 'replace':
        return sum(fa) / len(fa)
    total = orig + sum(fa)
    return total if mode.get('free_loss') else total / (len(fa) + 1)


@pytest.fixture(autouse=True)
def _hub():
    from mmfa.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    MessageHub.get_current_instance().update_info('max_iters', 100)
    MessageHub.get_current_instance().update_info('iter', 0)


def views(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=g) for _ in range(2)]


def build(cfg, seed=0):
    torch.manual_seed(seed)
    return MODELS.build(cfg)


# ---- MoCo v2 -----------------------------------------------------------------
def moco_cfg(fa=False, **head):
    return dict(
        type='FAMoCo' if fa else 'MoCo', queue_len=16, feat_dim=16,
        momentum=0.001,
        backbone=dict(type='ResNet', depth=18, norm_cfg=BN),
        neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=32,
                  out_channels=16, with_avg_pool=True),
        head=dict(type='FAMoCoHead' if fa else 'ContrastiveHead',
                  loss=dict(type='CrossEntropyLoss'), temperature=0.2,
                  **head))


def test_famoco_without_fa_equals_mmpretrain_moco():
    ref = build(moco_cfg()).train()
    model = build(moco_cfg(fa=True, augmenter=None)).train()
    model.load_state_dict(ref.state_dict())
    x = views()
    torch.manual_seed(7)  # the key shuffle draws from the global stream
    ref_loss = ref.loss(x, None)['loss']
    torch.manual_seed(7)
    loss = model.loss(x, None)['loss']
    assert torch.equal(loss, ref_loss)
    assert torch.equal(model.queue, ref.queue)
    for a, b in zip(model.encoder_k.parameters(), ref.encoder_k.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize('mode', MODES, ids=str)
def test_famoco_fa_keys_are_extra_positives_against_the_queue(mode):
    k = 3 if mode.get('fa_mode') == 'average' else 2
    model = build(moco_cfg(fa=True, augmenter=ShiftFA(
        num_aug=k - 1 if mode.get('fa_mode') == 'average' else k),
        num_aug=k, **mode)).eval()  # eval: BN statistics fixed
    x = views()
    ref = copy.deepcopy(model)
    queue = model.queue.clone()
    out = model.loss(x, None)
    with torch.no_grad():
        q = F.normalize(ref.neck(ref.backbone(x[0]))[0], dim=1)
        ref.encoder_k.update_parameters(torch.nn.Sequential(ref.backbone,
                                                            ref.neck))
        key = F.normalize(ref.encoder_k(x[1])[0], dim=1)

    def moco_nce(pos):
        total = 0.
        for i in range(q.shape[0]):
            logits = [float(q[i] @ (pos[i] / pos[i].norm())) / 0.2] + [
                float(q[i] @ queue[:, c]) / 0.2 for c in range(queue.shape[1])
            ]
            m = max(logits)
            total += m + math.log(sum(math.exp(v - m) for v in logits)) \
                - logits[0]
        return total / q.shape[0]

    copies = model.head.num_aug
    expected = combine(moco_nce(key),
                       [moco_nce(c) for c in shift_copies(key, copies)], mode)
    assert float(out['loss'].detach()) == pytest.approx(expected, abs=1e-5)


# ---- SimSiam -----------------------------------------------------------------
def simsiam_cfg(fa=False, **head):
    return dict(
        type='FASimSiam' if fa else 'SimSiam',
        backbone=dict(type='ResNet', depth=18, norm_cfg=BN,
                      zero_init_residual=True),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=32,
                  out_channels=32, num_layers=3, with_last_bn_affine=False,
                  with_avg_pool=True, norm_cfg=BN1D),
        head=dict(type='FALatentPredictHead' if fa else 'LatentPredictHead',
                  loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=32,
                                 hid_channels=8, out_channels=32,
                                 with_avg_pool=False, with_last_bn=False,
                                 with_last_bias=True, norm_cfg=BN1D),
                  **head))


def test_fasimsiam_without_fa_equals_mmpretrain_simsiam():
    ref = build(simsiam_cfg()).train()
    model = build(simsiam_cfg(fa=True, augmenter=None)).train()
    model.load_state_dict(ref.state_dict())
    x = views()
    ref_loss = ref.loss(x, None)['loss']
    loss = model.loss(x, None)['loss']
    assert torch.equal(loss, ref_loss)
    ref_loss.backward()
    loss.backward()
    for (name, a), b in zip(model.named_parameters(), ref.parameters()):
        assert torch.equal(a.grad, b.grad), name


@pytest.mark.parametrize('mode', MODES, ids=str)
def test_fasimsiam_fa_terms_on_the_stop_gradient_target(mode):
    k = 3 if mode.get('fa_mode') == 'average' else 2
    copies = k - 1 if mode.get('fa_mode') == 'average' else k
    model = build(simsiam_cfg(fa=True, augmenter=ShiftFA(num_aug=copies),
                              num_aug=k, **mode)).eval()
    x = views()
    out = model.loss(x, None)
    with torch.no_grad():
        z = [model.neck(model.backbone(v))[0] for v in x]
        p = [model.head.predictor([v])[0] for v in z]

    def neg_cos(a, b):
        return sum(-float(a[i] @ b[i]) / float(a[i].norm() * b[i].norm())
                   for i in range(a.shape[0])) / a.shape[0]

    dirs = [combine(neg_cos(p[i], z[1 - i]),
                    [neg_cos(p[i], c) for c in shift_copies(z[1 - i], copies)],
                    mode) for i in (0, 1)]
    assert float(out['loss'].detach()) == pytest.approx(
        0.5 * sum(dirs), abs=1e-5)


def test_fasimsiam_target_gets_no_gradient_through_fa():
    model = build(simsiam_cfg(fa=True, augmenter=dict(type='MaskFA'),
                              fa_mode='replace')).train()
    z2 = None

    def keep(_, __, out):
        nonlocal z2
        z2 = out[0]
        z2.retain_grad()
    x = views()
    model.loss([x[0], x[0]], None)  # warm BN, then hook one forward
    handle = model.neck.register_forward_hook(keep)
    out = model.head.loss(model.neck(model.backbone(x[0]))[0],
                          model.neck(model.backbone(x[1]))[0])
    handle.remove()
    out['loss'].backward()
    # The last neck output is the target side: detached, so no gradient.
    assert z2.grad is None


# ---- MSF: AsymmetricFABYOL + NN in the average mode --------------------------
def msf_cfg(bank, k):
    return dict(
        type='AsymmetricFABYOL', target_decay=0.99, target_decay_end=0.99,
        backbone=dict(type='ResNet', depth=18, norm_cfg=BN),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=32,
                  out_channels=16, num_layers=2, with_bias=True,
                  with_last_bn=False, with_avg_pool=True, norm_cfg=BN1D),
        head=dict(type='FALatentPredictHead',
                  predictor=dict(type='NonLinearNeck', in_channels=16,
                                 hid_channels=32, out_channels=16,
                                 num_layers=2, with_bias=True,
                                 with_last_bn=False, with_avg_pool=False,
                                 norm_cfg=BN1D),
                  augmenter=dict(type='NearestNeighborFA', bank=bank),
                  num_aug=k, fa_mode='average'))


def test_asymmetric_fa_byol_computes_msf_loss():
    k = 4
    g = torch.Generator().manual_seed(5)
    entries = torch.randn(24, 16, generator=g)
    bank = FeatureBank(size=32, dim=16)
    bank.enqueue(entries)
    model = build(msf_cfg(bank, k)).eval()
    # tau constant 0.99 (MSF): momentum 0.01 at both ends of the cosine.
    assert model.target_net.momentum == pytest.approx(0.01)
    assert model.target_net.end_momentum == pytest.approx(0.01)
    x = views()
    ref = copy.deepcopy(model)
    out = model.loss(x, None)
    with torch.no_grad():
        query = ref.head.predictor([ref.neck(ref.backbone(x[0]))[0]])[0]
        ref.target_net.update_parameters(torch.nn.Sequential(ref.backbone,
                                                             ref.neck))
        target = F.normalize(ref.target_net(x[1])[0], dim=1)
    query = F.normalize(query, dim=1)
    unit = F.normalize(entries, dim=1)
    msf = 0.
    for i in range(query.shape[0]):
        # MSF: the k nearest of the target in the bank, the target itself first.
        members = torch.cat([target[i:i + 1], unit])
        nn_idx = torch.argsort(members @ target[i], descending=True)[:k]
        msf += float(sum(2 - 2 * query[i] @ members[j] for j in nn_idx)) / k
    msf /= query.shape[0]
    # mmfa's 2 * (-cos) per term is MSF's 2 - 2 cos minus the constant 2.
    assert float(out['loss'].detach()) + 2 == pytest.approx(msf, abs=1e-5)
