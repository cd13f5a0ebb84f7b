# Copyright (c) mmfa contributors. All rights reserved.
"""All-gather of features across ranks for losses over the global batch
(docs/design.md §2).

``gather_features`` is differentiable: its backward *sums* the gradient over ranks
(all-reduce) before taking the local slice, so a loss computed on every rank over the
gathered batch gives each rank the same gradient as one process computing the loss over
the concatenated batch. mmpretrain's ``GatherLayer`` only keeps the local slice of the
local gradient, dropping the terms other ranks' losses contribute.
"""
from typing import List, Tuple

import torch
import torch.distributed as dist

__all__ = ['gather_features', 'gather_features_nograd', 'get_rank_world']


def get_rank_world() -> Tuple[int, int]:
    """(rank, world size), (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_gather_padded(x: torch.Tensor) -> Tuple[torch.Tensor, List[int]]:
    """All-gather ``x`` along dim 0, allowing a different size on each rank."""
    world = dist.get_world_size()
    size = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    sizes = [int(s.item()) for s in sizes]
    max_size = max(sizes)
    if x.shape[0] < max_size:
        pad = x.new_zeros((max_size - x.shape[0], ) + tuple(x.shape[1:]))
        x = torch.cat([x, pad], dim=0)
    out = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(out, x.contiguous())
    return torch.cat([o[:n] for o, n in zip(out, sizes)], dim=0), sizes


class _GatherWithGradSum(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x):
        gathered, sizes = _all_gather_padded(x)
        rank = dist.get_rank()
        ctx.start = sum(sizes[:rank])
        ctx.stop = ctx.start + sizes[rank]
        return gathered

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.start:ctx.stop]


def gather_features(x: torch.Tensor) -> torch.Tensor:
    """Differentiable all-gather along dim 0 (identity on a single process).

    Args:
        x (Tensor): Local features of shape (n_local, ...).

    Returns:
        Tensor: The features of all ranks, in rank order, (sum n_local, ...).
    """
    if get_rank_world()[1] == 1:
        return x
    if not x.requires_grad:
        return gather_features_nograd(x)
    return _GatherWithGradSum.apply(x)


@torch.no_grad()
def gather_features_nograd(x: torch.Tensor) -> torch.Tensor:
    """All-gather along dim 0 without gradient (``x.detach()`` on one process)."""
    if get_rank_world()[1] == 1:
        return x.detach()
    return _all_gather_padded(x.detach())[0]
