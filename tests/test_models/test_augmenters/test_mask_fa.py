# Copyright (c) mmfa contributors. All rights reserved.
import math

import pytest
import torch

import mmfa  # noqa: F401
from mmfa.models.augmenters import MaskFA


def _nonzero_feats(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x + 0.1 * torch.sign(x)  # no exact zeros: a zero in the output is a mask


def test_mask_ratio_and_unscaled_survivors():
    ratio, n, k, d = 0.2, 50, 4, 50  # 10k Bernoulli draws
    x = _nonzero_feats(n, d)
    torch.manual_seed(0)
    out = MaskFA(ratio=ratio, num_aug=k)(x)
    assert out.shape == (n, k, d)
    zero = out == 0
    frac = zero.float().mean().item()
    tol = 4.5 * math.sqrt(ratio * (1 - ratio) / zero.numel())
    assert abs(frac - ratio) < tol, frac
    # survivors are exactly the input: no 1 / (1 - ratio) rescaling
    full = x.unsqueeze(1).expand(n, k, d)
    assert torch.equal(out[~zero], full[~zero])
    # independent per copy: both copies masked with probability ratio^2
    both = (zero[:, 0] & zero[:, 1]).float().mean().item()
    assert abs(both - ratio**2) < 4.5 * math.sqrt(ratio**2 / (n * d))
    assert not torch.equal(zero[:, 0], zero[:, 1])
    # independent per sample: rows are not the same mask
    assert not torch.equal(zero[0], zero[1])


@pytest.mark.parametrize('ratio', [0.5, 0.05])
def test_other_ratios(ratio):
    x = _nonzero_feats(100, 100)
    frac = (MaskFA(ratio=ratio)(x) == 0).float().mean().item()
    assert abs(frac - ratio) < 4.5 * math.sqrt(ratio * (1 - ratio) / 1e4)


def test_ratio_zero_is_identity_and_gradient_is_the_mask():
    x = _nonzero_feats(4, 8)
    assert torch.equal(MaskFA(ratio=0.0, num_aug=3)(x), x.unsqueeze(1).repeat(1, 3, 1))
    x = x.requires_grad_()
    out = MaskFA(ratio=0.5, num_aug=2)(x)
    out.sum().backward()
    assert torch.equal(x.grad, (out != 0).float().sum(1))


@pytest.mark.parametrize('ratio', [-0.1, 1.0, 1.5])
def test_invalid_ratio(ratio):
    with pytest.raises(ValueError, match=r'\[0, 1\)'):
        MaskFA(ratio=ratio)
