# Copyright (c) mmfa contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F

import mmfa  # noqa: F401
from mmfa.models.augmenters import MixupNoiseFA
from tests.utils.dist import run_distributed
from tests.utils.log_capture import capture_current_log


def _check_lam(lam, alpha):
    """lam ~ U(alpha, 1): range, mean and median."""
    assert lam.min() >= alpha - 1e-6 and lam.max() <= 1 + 1e-6
    n = lam.numel()
    mean_tol = 5 * (1 - alpha) / math.sqrt(12 * n)  # 5 standard errors
    assert abs(lam.mean().item() - (1 + alpha) / 2) < mean_tol
    below = (lam < alpha + (1 - alpha) / 2).float().mean().item()
    assert abs(below - 0.5) < 5 * 0.5 / math.sqrt(n)


def _recover_onehot(out, own):
    """For one-hot inputs: out[i, j] = lam e_own(i) + (1 - lam) e_partner.

    Returns lam (n, k) and partner (n, k), -1 where lam == 1 hides the partner;
    asserts that out has exactly this form.
    """
    n, k, d = out.shape
    lam = out[torch.arange(n), :, own]  # (n, k)
    rest = out.clone()
    rest[torch.arange(n), :, own] = 0
    val, partner = rest.max(dim=2)
    torch.testing.assert_close(val, 1 - lam)
    rest.scatter_(2, partner.unsqueeze(2), 0)
    assert torch.equal(rest, torch.zeros_like(rest))  # nothing else is mixed in
    partner[lam == 1] = -1
    return lam, partner


def test_gaussian_lam_and_noise_recovered():
    alpha, std, n, k, d = 0.85, 0.2, 64, 4, 128
    x = F.normalize(torch.randn(n, d), dim=1)
    # two augmenters with one seed draw the same (lam, e) whatever the input:
    # a(x) - b(0) = lam * x and b(0) = (1 - lam) * e
    torch.manual_seed(0)
    a = MixupNoiseFA(noise='gaussian', alpha=alpha, std=std, num_aug=k)
    torch.manual_seed(0)
    b = MixupNoiseFA(noise='gaussian', alpha=alpha, std=std, num_aug=k)
    out, zero_out = a(x), b(torch.zeros_like(x))
    assert out.shape == (n, k, d)
    lam_elem = (out - zero_out) / x.unsqueeze(1)
    lam = lam_elem.median(dim=2).values  # (n, k)
    torch.testing.assert_close(lam_elem, lam.unsqueeze(2).expand(n, k, d),
                               atol=1e-4, rtol=1e-4)  # one lam per sample and copy
    _check_lam(lam, alpha)
    assert lam.unique().numel() > 0.9 * n * k  # drawn per sample and per copy
    keep = (1 - lam) > 1e-3
    e = (zero_out / (1 - lam).unsqueeze(2))[keep]
    assert abs(e.mean().item()) < 5 * std / math.sqrt(e.numel())
    assert abs(e.std().item() - std) < 5 * std / math.sqrt(2 * e.numel())
    # not re-normalised
    assert not torch.allclose(out.norm(dim=2), torch.ones(n, k))


def test_batch_noise_never_picks_itself_and_gradient():
    alpha, n, k = 0.85, 32, 40
    x = torch.eye(n).requires_grad_()  # one-hot: the partner is identifiable
    torch.manual_seed(0)
    aug = MixupNoiseFA(noise='batch', alpha=alpha, num_aug=k)
    out = aug(x)
    own = torch.arange(n)
    lam, partner = _recover_onehot(out.detach(), own)
    _check_lam(lam, alpha)
    valid = partner >= 0
    assert valid.float().mean() > 0.99
    assert not (partner == own.unsqueeze(1)).any()
    counts = torch.bincount(partner[valid], minlength=n)
    assert (counts > 0).all()  # every other sample gets drawn
    assert counts.sum() == valid.sum()
    # gradient: d/dx of sum(w * out) with out = lam x_i + (1 - lam) x_p
    w = torch.randn(n, k, n, generator=torch.Generator().manual_seed(1))
    (w * out).sum().backward()
    expected = torch.zeros(n, n)
    for i in range(n):
        for j in range(k):
            expected[i] += lam[i, j] * w[i, j]
            p = partner[i, j] if partner[i, j] >= 0 else i
            expected[p] += (1 - lam[i, j]) * w[i, j]
    torch.testing.assert_close(x.grad, expected)


def test_batch_noise_with_single_sample_falls_back():
    x = F.normalize(torch.randn(1, 8), dim=1)
    with capture_current_log() as messages:
        out = MixupNoiseFA(noise='batch', num_aug=2)(x)
    assert torch.equal(out, x.unsqueeze(1).repeat(1, 2, 1))
    assert any('single sample' in m for m in messages)


def test_nn_noise_mixes_with_jth_neighbour():
    g = torch.Generator().manual_seed(3)
    alpha, k = 0.85, 3
    aug = MixupNoiseFA(noise='nn', alpha=alpha, num_aug=k,
                       bank=dict(type='FeatureBank', size=100, dim=8))
    x = F.normalize(torch.randn(200, 8, generator=g), dim=1)
    # fallback while the bank holds fewer than k entries
    aug.bank.enqueue(torch.randn(2, 8, generator=g))
    with capture_current_log() as messages:
        assert torch.equal(aug(x), x.unsqueeze(1).repeat(1, k, 1))
    assert any('2 < 3' in m for m in messages)
    rows = torch.randn(50, 8, generator=g)
    aug.bank.enqueue(rows)
    out = aug(x)
    written = aug.bank.feats[:52]
    order = (x @ written.t()).argsort(dim=1, descending=True)[:, :k]
    nn = written[order]  # (n, k, 8): the j-th neighbour for copy j
    f = x.unsqueeze(1)
    # out - nn = lam (f - nn): project to get lam, then check the residual
    lam = ((out - nn) * (f - nn)).sum(2) / ((f - nn)**2).sum(2)
    torch.testing.assert_close(out, lam.unsqueeze(2) * f + (1 - lam.unsqueeze(2)) * nn)
    _check_lam(lam, alpha)


def test_bad_configs():
    with pytest.raises(ValueError) as err:
        MixupNoiseFA(noise='gauss')
    for name in ('nn', 'batch', 'gaussian'):
        assert repr(name) in str(err.value)
    with pytest.raises(ValueError, match='alpha'):
        MixupNoiseFA(noise='gaussian', alpha=1.5)
    with pytest.raises(ValueError, match='std'):
        MixupNoiseFA(noise='gaussian', std=-1)


SIZES = [3, 2]


def _two_rank_batch_noise(rank, world_size, k):
    offset, total = sum(SIZES[:rank]), sum(SIZES)
    x = torch.eye(total)[offset:offset + SIZES[rank]].clone().requires_grad_()
    torch.manual_seed(0)  # the same seed on both ranks: they still draw differently
    aug = MixupNoiseFA(noise='batch', num_aug=k)
    out = aug(x)
    w = torch.randn(out.shape, generator=torch.Generator().manual_seed(10 + rank))
    (w * out).sum().backward()
    torch.manual_seed(0)
    gauss = MixupNoiseFA(noise='gaussian')(torch.ones(4, 8))
    return dict(out=out.detach(), w=w, grad=x.grad, gauss=gauss)


def test_two_process_batch_noise_partners_and_exact_gradient(tmp_path):
    k = 60
    res = run_distributed(_two_rank_batch_noise, tmp_path, world_size=2, k=k)
    total = sum(SIZES)
    expected = torch.zeros(total, total)
    for rank, r in enumerate(res):
        offset = sum(SIZES[:rank])
        own = offset + torch.arange(SIZES[rank])
        lam, partner = _recover_onehot(r['out'], own)
        assert not (partner == own.unsqueeze(1)).any()
        other_rank = (partner >= 0) & ((partner < offset) |
                                       (partner >= offset + SIZES[rank]))
        assert other_rank.any()  # partners come from the other rank too
        same_rank = (partner >= 0) & ~other_rank
        if SIZES[rank] > 1:
            assert same_rank.any()
        # the single-process gradient of the summed losses, over the global batch
        for i in range(SIZES[rank]):
            for j in range(k):
                expected[own[i]] += lam[i, j] * r['w'][i, j]
                p = partner[i, j] if partner[i, j] >= 0 else own[i]
                expected[p] += (1 - lam[i, j]) * r['w'][i, j]
    grads = torch.cat([r['grad'] for r in res])
    torch.testing.assert_close(grads, expected)
    # seeded with initial_seed + rank: the ranks' streams differ
    assert not torch.equal(res[0]['gauss'], res[1]['gauss'])
