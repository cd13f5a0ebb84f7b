# Copyright (c) mmfa contributors. All rights reserved.
"""Batched view augmentation inside the data-loader workers.

Feature Augmentation for Self-supervised Contrastive Learning (Zhang et al.,
arXiv:2410.12396) pre-trains on two augmented views per image. On a GPU,
:class:`~mmfa.models.BatchViewAugmentor` makes them on the device. On a CPU-only
machine the device is the CPU the model runs on, so augmenting there serialises
the views with the model step; :func:`batch_view_collate` makes the same views
with the same transforms in the loader worker instead, where they overlap with
the step (docs/design.md §16).
"""
from typing import Optional, Sequence

import torch
from mmengine.dataset import default_collate

from mmfa.registry import FUNCTIONS

__all__ = ['batch_view_collate']

#: Keeps the seeds of different ranks apart (ranks share the loader's base seed).
_RANK_STRIDE = 0x9E3779B97F4A7C15


def _batch_generator() -> torch.Generator:
    """A fresh generator for one batch, seeded from the process's global torch
    RNG (in a worker: seeded by mmengine's ``worker_init_fn`` from the run's
    seed, the rank and the worker id, and advancing over the worker's life),
    the loader's per-epoch worker seed (``get_worker_info().seed``; it keeps a
    run's epochs apart when workers are not persistent, because mmengine
    re-seeds every new worker with the same seed) and the rank."""
    from mmfa.models.utils import get_rank_world
    seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
    info = torch.utils.data.get_worker_info()
    if info is not None:
        seed += int(info.seed)
    rank, _ = get_rank_world()
    seed = (seed + rank * _RANK_STRIDE) % 2**63
    return torch.Generator().manual_seed(seed)


@FUNCTIONS.register_module()
def batch_view_collate(data_batch: Sequence,
                       views: Sequence[Sequence[dict]],
                       exact: bool = True,
                       uint8_rounding: bool = True,
                       cpu_chunk_values: Optional[int] = None) -> dict:
    """``default_collate``, then the views of
    :class:`~mmfa.models.BatchViewAugmentor` made in the loader worker.

    Use with the model's plain ``SelfSupDataPreprocessor`` (channel order and
    normalisation), e.g. ``train_dataloader.collate_fn = dict(
    type='mmfa.batch_view_collate', views=[...])``. The worker pipeline decodes and
    packs (``LoadImageFromFile``, ``PackInputs``), optionally crops and flips
    per view with ``MultiView``, exactly as for the augmentor; the views have
    the same distribution and pixels as the augmentor's, only the random
    stream differs (drawn per batch, see below).

    Randomness: each batch's parameters come from a fresh generator seeded
    from the worker's global torch RNG (which mmengine seeds per run seed,
    rank and worker), the loader's per-epoch worker seed and the rank, so a
    seed gives the same views, ranks and epochs draw differently, and the
    views do not depend on the process's earlier use of the global RNG other
    than through that one draw. With ``num_workers=0`` the draw comes from the
    training process's global RNG.

    Args:
        data_batch (Sequence): The samples, as mmengine's collate functions
            receive them.
        views (list[list[dict]]): One transform list per view, as
            ``BatchViewAugmentor(views=...)``.
        exact (bool): As ``BatchViewAugmentor(exact=...)``. Defaults to True.
        uint8_rounding (bool): As ``BatchViewAugmentor(uint8_rounding=...)``.
            Rounded views travel to the training process as uint8 (4x less
            shared memory); others as float32. Defaults to True.
        cpu_chunk_values (int, optional): As the augmentor's. Defaults to the
            augmentor's default.

    Returns:
        dict: ``inputs``, a list of V tensors (N, 3, h, w), BGR in [0, 255]
        (uint8 when rounded, float32 otherwise), and ``data_samples``.
    """
    from mmfa.models.data_preprocessors import BatchViewAugmentor
    data = default_collate(data_batch)
    if not isinstance(data, dict) or 'inputs' not in data:
        raise TypeError('batch_view_collate: the samples must be packed by '
                        "PackInputs (dicts with 'inputs'), got "
                        f'{type(data).__name__}.')
    kwargs = dict(views=views, exact=exact, uint8_rounding=uint8_rounding)
    if cpu_chunk_values is not None:
        kwargs['cpu_chunk_values'] = cpu_chunk_values
    # built per batch (~0.5 ms, against ~25 ms of augmentation at 32 px): the
    # function keeps no state between calls
    augmentor = BatchViewAugmentor(**kwargs)
    out = augmentor.make_views(data['inputs'], generator=_batch_generator())
    if augmentor.uint8_rounding:
        # integer-valued in [0, 255]: lossless
        out = [v.to(torch.uint8) for v in out]
    return dict(inputs=out, data_samples=data.get('data_samples'))
