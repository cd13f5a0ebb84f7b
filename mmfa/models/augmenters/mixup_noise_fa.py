# Copyright (c) mmfa contributors. All rights reserved.
import logging
from typing import Union

import torch
from mmengine.logging import print_log
from torch import Tensor

from mmfa.registry import MODELS
from ..memories import FeatureBank
from ..utils import gather_features, gather_features_nograd, get_rank_world
from .base import BaseFeatureAugmenter

__all__ = ['MixupNoiseFA']


@MODELS.register_module()
class MixupNoiseFA(BaseFeatureAugmenter):
    """Noise feature augmentation: ``f' = lam * f + (1 - lam) * e``.

    Zhang et al., "Feature Augmentation for Self-supervised Contrastive Learning: A
    Closer Look", arXiv:2410.12396, sec. 3 (NN noise, batch noise, Gaussian noise).
    ``lam ~ U(alpha, 1)`` is drawn independently per sample and per copy. The noise
    ``e`` of copy j is:

    - ``'nn'``: the j-th nearest entry of the method's own
      :class:`~mmfa.models.memories.FeatureBank` (built from ``bank``, only for this
      noise; fed by the model's training loss as for
      :class:`NearestNeighborFA`). Until the bank holds ``num_aug`` entries, or
      during the hook's warm-up, the features are returned un-augmented (logged
      once).
    - ``'batch'``: a uniformly drawn *other* sample of the global batch (never the
      sample itself). The batch is all-gathered with the differentiable
      :func:`~mmfa.models.utils.gather_features`, so without stop-gradient the
      gradient reaching each rank's features is exactly the single-process one. With
      a global batch of one sample there is no other sample and the features are
      returned un-augmented (logged once).
    - ``'gaussian'``: ``e ~ N(0, std^2)`` per dimension.

    Args:
        noise (str): ``'nn'``, ``'batch'`` or ``'gaussian'``. Defaults to ``'nn'``.
        alpha (float): Lower bound of lam, in [0, 1]. Defaults to 0.85.
        std (float): Standard deviation of the Gaussian noise. Defaults to 0.2.
        num_aug (int): Number of augmented copies. Defaults to 1.
        bank (dict | FeatureBank): The bank or its config, used only for
            ``noise='nn'``. Defaults to ``dict(type='FeatureBank', size=65536,
            dim=256)``.
    """

    NOISES = ('nn', 'batch', 'gaussian')

    def __init__(self,
                 noise: str = 'nn',
                 alpha: float = 0.85,
                 std: float = 0.2,
                 num_aug: int = 1,
                 bank: Union[dict, FeatureBank] = dict(
                     type='FeatureBank', size=65536, dim=256)) -> None:
        super().__init__(num_aug=num_aug)
        if noise not in self.NOISES:
            raise ValueError(f'MixupNoiseFA: unknown noise {noise!r}; valid names '
                             f'are {list(self.NOISES)}.')
        if not 0 <= alpha <= 1:
            raise ValueError(
                f'MixupNoiseFA: alpha is the lower bound of lam ~ U(alpha, 1) and '
                f'must be in [0, 1], got {alpha!r} (the paper uses 0.85).')
        if std < 0:
            raise ValueError(f'MixupNoiseFA: std must be >= 0, got {std!r}.')
        self.noise = noise
        self.alpha = float(alpha)
        self.std = float(std)
        if noise == 'nn':
            self.requires_bank = True
            self.bank = self._build_bank(bank)
        self._logged_tiny_batch = False

    def extra_repr(self) -> str:
        return (f'noise={self.noise!r}, alpha={self.alpha}, std={self.std}, '
                f'num_aug={self.num_aug}')

    def augment(self, feats: Tensor) -> Tensor:
        n, d = feats.shape
        k = self.num_aug
        gen = self.generator(feats.device)
        if self.noise == 'nn':
            noise = self._bank_neighbours(feats)
        elif self.noise == 'batch':
            noise = self._batch_partners(feats, gen)
        else:
            noise = torch.randn((n, k, d), generator=gen,
                                device=feats.device).to(feats.dtype) * self.std
        if noise is None:
            return feats.unsqueeze(1).expand(-1, k, -1).clone()
        lam = self.alpha + (1 - self.alpha) * torch.rand(
            (n, k, 1), generator=gen, device=feats.device)
        lam = lam.to(feats.dtype)
        return lam * feats.unsqueeze(1) + (1 - lam) * noise

    def _batch_partners(self, feats: Tensor, gen: torch.Generator) -> Tensor:
        """For each local sample and copy, a random other sample of the global
        batch (N, k, D), or None if the global batch has a single sample."""
        n = feats.shape[0]
        rank, world = get_rank_world()
        if world > 1:
            sizes = gather_features_nograd(
                torch.tensor([n], device=feats.device)).tolist()
            offset, total = sum(sizes[:rank]), sum(sizes)
        else:
            offset, total = 0, n
        if total < 2:
            if not self._logged_tiny_batch:
                self._logged_tiny_batch = True
                print_log(
                    'MixupNoiseFA(noise="batch"): the global batch has a single '
                    'sample, so there is no other sample to mix with; returning '
                    'the un-augmented features for such batches (logged once).',
                    logger='current',
                    level=logging.WARNING)
            return None
        all_feats = gather_features(feats)  # every rank must call this
        # Draw among the total - 1 others: skip over the sample's own global index.
        idx = torch.randint(
            0, total - 1, (n, self.num_aug), generator=gen, device=feats.device)
        own = offset + torch.arange(n, device=feats.device).unsqueeze(1)
        idx = idx + (idx >= own).long()
        return all_feats[idx]
