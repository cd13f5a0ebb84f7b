# Copyright (c) mmfa contributors. All rights reserved.
"""The heads' fa_mode (docs/design.md §15): 'replace' (NNCLR) and 'average'
(MSF) against independent computations; 'add' stays the default."""
import math

import pytest
import torch

import mmfa.models  # noqa: F401
from mmfa.models.augmenters import BaseFeatureAugmenter
from mmfa.models.memories import FeatureBank
from mmfa.registry import MODELS

TAU = 0.2


def nce(a, b, tau=TAU):
    """Eq. 1 with python loops over explicitly normalised rows."""
    total = 0.
    for i in range(a.shape[0]):
        ai = a[i] / a[i].norm()
        logits = [float(ai @ (b[k] / b[k].norm())) / tau
                  for k in range(b.shape[0])]
        m = max(logits)
        total += m + math.log(sum(math.exp(x - m) for x in logits)) - logits[i]
    return total / a.shape[0]


class ShiftFA(BaseFeatureAugmenter):
    """Deterministic test augmenter: copy j = f * (j + 2) / 2 + (j + 1) / 10."""

    def augment(self, feats):
        j = torch.arange(self.num_aug, dtype=feats.dtype).view(1, -1, 1)
        return feats.unsqueeze(1) * (j + 2) / 2 + (j + 1) / 10


def _data(n=5, d=8, k=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g), torch.randn(n, d, generator=g),
            torch.randn(n, k, d, generator=g))


def contrastive(**kwargs):
    return MODELS.build(dict(type='FAContrastiveHead', temperature=TAU,
                             augmenter=kwargs.pop('augmenter',
                                                  dict(type='MaskFA')),
                             **kwargs))


@pytest.mark.parametrize('free_loss', [False, True])
@pytest.mark.parametrize('k', [1, 2])
def test_replace_mode_is_the_fa_terms_alone(k, free_loss):
    a, b, fa = _data(k=k)
    head = contrastive(num_aug=k, fa_mode='replace', free_loss=free_loss)
    out = head.loss([dict(anchor=a, positive=b, fa_positive=fa),
                     dict(anchor=b, positive=a, fa_positive=fa.flip(0))])
    per_dir = []
    for anchor, copies in ((a, fa), (b, fa.flip(0))):
        terms = [nce(anchor, copies[:, j]) for j in range(k)]
        per_dir.append(sum(terms) if free_loss else sum(terms) / k)
    assert float(out['loss']) == pytest.approx(sum(per_dir) / 2, abs=1e-6)
    # The original term is logged, not optimised.
    assert float(out['nce_orig']) == pytest.approx(
        (nce(a, b) + nce(b, a)) / 2, abs=1e-6)


def test_replace_mode_sends_no_gradient_through_the_original_pair():
    a, b, fa = _data(k=1)
    a.requires_grad_(True)
    head = contrastive(num_aug=1, fa_mode='replace', symmetric=False)
    head.loss([dict(anchor=a, positive=b, fa_positive=fa)])['loss'].backward()
    ref = a.detach().clone().requires_grad_(True)
    contrastive(num_aug=1).info_nce(ref, fa[:, 0]).backward()
    # NNCLR's rule: the gradient is that of (a, FA(b)) alone.
    torch.testing.assert_close(a.grad, ref.grad)


def test_replace_with_nn_bank_is_nnclr_positive_swap():
    """Parallel-predictor + NN in replace mode: the positive of p_i is the bank
    entry nearest to z_i+, found here by brute force."""
    g = torch.Generator().manual_seed(3)
    p, z, entries = (torch.randn(6, 8, generator=g),
                     torch.randn(6, 8, generator=g),
                     torch.randn(20, 8, generator=g))
    bank = FeatureBank(size=32, dim=8)
    bank.enqueue(entries)
    head = contrastive(augmenter=dict(type='NearestNeighborFA', bank=bank),
                       num_aug=1, fa_mode='replace', symmetric=False)
    out = head.loss([dict(anchor=p, positive=z,
                          fa_positive=head.augment(z))])
    unit = entries / entries.norm(dim=1, keepdim=True)
    nn = torch.stack([unit[int(torch.argmax(unit @ (zi / zi.norm())))]
                      for zi in z])
    assert float(out['loss']) == pytest.approx(nce(p, nn), abs=1e-6)


def test_average_mode_counts_the_original_in_k():
    a, b, _ = _data()
    head = contrastive(augmenter=ShiftFA(num_aug=2), num_aug=3,
                       fa_mode='average', symmetric=False)
    assert head.num_aug == 2  # k - 1 copies, the original makes k = 3
    fa = head.augment(b)
    out = head.loss([dict(anchor=a, positive=b, fa_positive=fa)])
    bn = b / b.norm(dim=1, keepdim=True)
    copies = [bn * (j + 2) / 2 + (j + 1) / 10 for j in range(2)]
    expected = (nce(a, b) + sum(nce(a, c) for c in copies)) / 3
    assert float(out['loss']) == pytest.approx(expected, abs=1e-6)


def test_msf_average_mode_on_the_byol_head():
    """MSF's loss: the mean over the target and its k - 1 nearest bank entries of
    -cos(prediction, member) (MSF's 2 - 2 cos up to the constant)."""
    torch.manual_seed(0)
    k = 4
    g = torch.Generator().manual_seed(1)
    z, t, entries = (torch.randn(5, 8, generator=g),
                     torch.randn(5, 8, generator=g),
                     torch.randn(30, 8, generator=g))
    bank = FeatureBank(size=64, dim=8)
    bank.enqueue(entries)
    head = MODELS.build(dict(
        type='FALatentPredictHead',
        predictor=dict(type='NonLinearNeck', in_channels=8, hid_channels=16,
                       out_channels=8, num_layers=2, with_avg_pool=False,
                       norm_cfg=dict(type='BN1d')),
        augmenter=dict(type='NearestNeighborFA', bank=bank), num_aug=k,
        fa_mode='average'))
    head.eval()
    out = head.loss(z, t)
    with torch.no_grad():
        p = head.predictor([z])[0]
    unit = entries / entries.norm(dim=1, keepdim=True)
    expected = 0.
    for i in range(5):
        ti = t[i] / t[i].norm()
        order = torch.argsort(unit @ ti, descending=True)[:k - 1]
        members = [ti] + [unit[j] for j in order]
        expected += sum(-float(p[i] @ m) / float(p[i].norm() * m.norm())
                        for m in members) / k
    assert float(out['loss'].detach()) == pytest.approx(expected / 5, abs=1e-6)


def test_default_mode_is_add_and_unchanged():
    a, b, fa = _data(k=2)
    head = contrastive(num_aug=2)
    assert head.fa_mode == 'add'
    out = head.loss([dict(anchor=a, positive=b, fa_positive=fa)] * 1)
    expected = (nce(a, b) + nce(a, fa[:, 0]) + nce(a, fa[:, 1])) / 3
    assert float(out['loss']) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize('kwargs, match', [
    (dict(fa_mode='swap'), 'fa_mode must be one of'),
    (dict(fa_mode='replace', augmenter=dict(type=None)), 'needs an FA method'),
    (dict(fa_mode='average', num_aug=1), 'num_aug >= 2'),
    (dict(fa_mode='average', num_aug=3, free_loss=True), 'free_loss'),
])
def test_mode_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        contrastive(**kwargs)
