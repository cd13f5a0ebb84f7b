# Copyright (c) mmfa contributors. All rights reserved.
"""All-gather of features across ranks for losses over the global batch
(docs/design.md §2).

The differentiable gather is torch's ``torch.distributed.nn.functional.all_gather``:
its backward sums the gradient over ranks (reduce-scatter) before handing each rank
its slice, so a loss computed on every rank over the gathered batch gives each rank
the same gradient as one process computing the loss over the concatenated batch
(mmpretrain's ``GatherLayer`` keeps only the local gradient). What torch lacks and
this module adds: the identity on a single process, local batches of different sizes
(padded to the largest, then trimmed; e.g. a feature-bank write where a rank has
nothing pending) and a no-gradient path.
"""
import warnings
from typing import List, Tuple

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn

__all__ = ['gather_features', 'gather_features_nograd', 'get_rank_world']


def get_rank_world() -> Tuple[int, int]:
    """(rank, world size), (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _padded(x: torch.Tensor) -> Tuple[torch.Tensor, List[int]]:
    """``x`` padded along dim 0 to the largest local size, and every rank's size."""
    size = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    sizes = [int(s.item()) for s in sizes]
    pad = x.new_zeros((max(sizes) - x.shape[0], ) + tuple(x.shape[1:]))
    return torch.cat([x, pad]).contiguous(), sizes


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
    x, sizes = _padded(x)
    with warnings.catch_warnings():
        # torch 2.14 marks it deprecated in favour of a private module
        # (torch.distributed._functional_collectives); same semantics.
        warnings.simplefilter('ignore', FutureWarning)
        parts = dist_nn.all_gather(x)
    return torch.cat([p[:n] for p, n in zip(parts, sizes)])


@torch.no_grad()
def gather_features_nograd(x: torch.Tensor) -> torch.Tensor:
    """All-gather along dim 0 without gradient (``x.detach()`` on one process)."""
    if get_rank_world()[1] == 1:
        return x.detach()
    x, sizes = _padded(x.detach())
    parts = [torch.empty_like(x) for _ in sizes]
    dist.all_gather(parts, x)
    return torch.cat([p[:n] for p, n in zip(parts, sizes)])
