# Copyright (c) mmfa contributors. All rights reserved.
"""FAContrastiveHead under DDP equals one process over the global batch."""
import pytest
import torch

from tests.utils.dist import run_distributed

N_LOCAL, DIM = 3, 8


def _features(seed=0, world_size=2):
    g = torch.Generator().manual_seed(seed)
    n = N_LOCAL * world_size
    return (torch.randn(n, DIM, generator=g), torch.randn(n, DIM, generator=g),
            torch.randn(n, 2, DIM, generator=g))


def _head(stop_grad):
    import mmfa.models  # noqa: F401
    from mmfa.registry import MODELS
    return MODELS.build(dict(type='FAContrastiveHead', stop_grad=stop_grad,
                             temperature=0.2))


def _worker(rank, world_size, stop_grad):
    a, b, fa_b = _features(world_size=world_size)
    sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
    a, b, fa_b = (t[sl].clone().requires_grad_(True) for t in (a, b, fa_b))
    head = _head(stop_grad)
    # The second direction's FA copies: this rank's slice of the global ones.
    flipped = _features(world_size=world_size)[2].flip(0)[sl].clone()
    flipped.requires_grad_(True)
    loss = head.loss([
        dict(anchor=a, positive=b, fa_positive=fa_b),
        dict(anchor=b, positive=a, fa_positive=flipped),
    ])['loss']
    loss.backward()
    return dict(loss=loss.detach(), ga=a.grad, gb=b.grad,
                gfa=fa_b.grad if fa_b.grad is not None else torch.zeros(0))


@pytest.mark.parametrize('stop_grad', [True, False])
def test_two_process_head_matches_single_process(tmp_path, stop_grad):
    a, b, fa_b = _features()
    a.requires_grad_(True)
    b.requires_grad_(True)
    fa_b.requires_grad_(True)
    head = _head(stop_grad)
    flipped = fa_b.detach().flip(0).clone().requires_grad_(True)
    loss = head.loss([
        dict(anchor=a, positive=b, fa_positive=fa_b),
        dict(anchor=b, positive=a, fa_positive=flipped),
    ])['loss']
    loss.backward()

    results = run_distributed(_worker, tmp_path, world_size=2,
                              stop_grad=stop_grad)
    # Each rank's loss averages its local anchors; their mean is the global loss.
    mean_loss = sum(float(r['loss']) for r in results) / 2
    assert mean_loss == pytest.approx(float(loss.detach()), abs=1e-6)
    # DDP averages gradients over ranks: local gradient / world size equals the
    # single-process gradient of the same samples.
    for rank, r in enumerate(results):
        sl = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
        torch.testing.assert_close(r['ga'] / 2, a.grad[sl], atol=1e-6,
                                   rtol=1e-5)
        torch.testing.assert_close(r['gb'] / 2, b.grad[sl], atol=1e-6,
                                   rtol=1e-5)
        if not stop_grad:
            torch.testing.assert_close(r['gfa'] / 2, fa_b.grad[sl],
                                       atol=1e-6, rtol=1e-5)
    if stop_grad:
        assert fa_b.grad is None
