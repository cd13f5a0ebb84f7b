# Copyright (c) mmfa contributors. All rights reserved.
import torch

import mmfa  # noqa: F401
from mmfa.models.utils import (gather_features, gather_features_nograd,
                               get_rank_world)
from tests.utils.dist import run_distributed

SIZES = [3, 2]  # unequal local batches exercise the padding
DIM = 4


def _local(rank):
    return torch.randn(SIZES[rank], DIM,
                       generator=torch.Generator().manual_seed(rank))


def _weights(rank):
    return torch.randn(sum(SIZES), DIM,
                       generator=torch.Generator().manual_seed(100 + rank))


def _rank_loss(gathered, rank):
    """A loss every rank computes over the gathered batch; different per rank,
    nonlinear, and coupling samples of both ranks."""
    w = _weights(rank)
    logits = gathered @ gathered.t() / 0.5
    return (w * gathered.pow(2)).sum() + (rank + 1) * torch.logsumexp(
        logits, dim=1).mean()


def _gather_worker(rank, world_size):
    assert get_rank_world() == (rank, world_size)
    x = _local(rank).requires_grad_()
    gathered = gather_features(x)
    _rank_loss(gathered, rank).backward()
    nograd = gather_features_nograd(x)
    plain = gather_features(x.detach())  # no grad needed: plain all-gather
    empty = gather_features_nograd(torch.zeros(0, DIM))  # every rank empty
    return dict(
        gathered=gathered.detach(),
        grad=x.grad,
        nograd=nograd,
        nograd_requires_grad=nograd.requires_grad,
        plain=plain,
        empty_shape=list(empty.shape))


def test_two_process_gather_forward_and_exact_gradient(tmp_path):
    res = run_distributed(_gather_worker, tmp_path, world_size=2)
    # single-process reference: the same losses over the concatenated batch
    full = torch.cat([_local(r) for r in range(2)]).requires_grad_()
    sum(_rank_loss(full, r) for r in range(2)).backward()
    offsets = [0, SIZES[0], sum(SIZES)]
    for rank, r in enumerate(res):
        torch.testing.assert_close(r['gathered'], full.detach())
        torch.testing.assert_close(r['nograd'], full.detach())
        torch.testing.assert_close(r['plain'], full.detach())
        assert not r['nograd_requires_grad']
        assert r['empty_shape'] == [0, DIM]
        torch.testing.assert_close(r['grad'],
                                   full.grad[offsets[rank]:offsets[rank + 1]])
    # the other rank's loss matters: the local loss alone gives another gradient
    local_only = torch.cat([_local(r) for r in range(2)]).requires_grad_()
    _rank_loss(local_only, 0).backward()
    assert not torch.allclose(local_only.grad[:SIZES[0]], res[0]['grad'])


def test_single_process_is_identity():
    assert get_rank_world() == (0, 1)
    x = torch.randn(3, DIM, requires_grad=True)
    assert gather_features(x) is x
    assert torch.equal(gather_features_nograd(x), x)


def test_single_process_nograd_has_no_grad():
    x = torch.randn(3, DIM, requires_grad=True)
    assert not gather_features_nograd(x).requires_grad
