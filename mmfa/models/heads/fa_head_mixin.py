# Copyright (c) mmfa contributors. All rights reserved.
"""What the FA heads share: building the augmenter, augmenting, stashing for the bank,
and combining the original and FA loss terms (docs/design.md §3)."""
from typing import List, Optional, Union

import torch
from torch import Tensor

from ..augmenters import BaseFeatureAugmenter, build_augmenter


class FAHeadMixin:
    """Feature-augmentation part of an mmfa head.

    Args (set by ``_init_fa``):
        augmenter (dict | None): An FA method config (``MaskFA``, ``NearestNeighborFA``,
            ``MixupNoiseFA``, ...); None or ``dict(type=None)`` is the no-FA
            baseline of the layout (configs use the latter so that a child config
            can set the method with ``augmenter=dict(type=...)``).
        num_aug (int, optional): k, the number of FA copies; passed to the
            augmenter (None: the augmenter's own default).
        free_loss (bool): ``L_orig + sum_j L_FA_j`` ("free loss") instead of the
            average ``(L_orig + sum_j L_FA_j) / (k + 1)``.
        stop_grad (bool): No gradient through the positive side (z_i+ and FA(z_i+)).
            A flag of ``FAContrastiveHead``; ``FALatentPredictHead`` (FA-BYOL) fixes
            it to True, BYOL's target being an EMA copy outside the optimiser.
    """

    def _init_fa(self, augmenter: Optional[dict], num_aug: Optional[int],
                 free_loss: bool, stop_grad: bool) -> None:
        if isinstance(augmenter, dict) and augmenter.get('type') is None:
            extra = sorted(k for k in augmenter if k != 'type')
            if extra:
                raise ValueError(
                    f'augmenter has no type but sets {extra}; name the FA '
                    "method, e.g. augmenter=dict(type='MaskFA', ratio=0.2)")
            augmenter = None
        if isinstance(augmenter, dict) and num_aug is not None:
            augmenter = dict(augmenter)
            augmenter.setdefault('num_aug', num_aug)
        self.augmenter: Optional[BaseFeatureAugmenter] = build_augmenter(
            augmenter)
        if (self.augmenter is not None and num_aug is not None
                and self.augmenter.num_aug != num_aug):
            raise ValueError(
                f'head num_aug={num_aug} but the augmenter makes '
                f'{self.augmenter.num_aug} copies; set k in one place (the '
                'head\'s num_aug).')
        self.free_loss = free_loss
        self.stop_grad = stop_grad

    @property
    def num_aug(self) -> int:
        """k, the number of FA copies (0 without FA)."""
        return 0 if self.augmenter is None else self.augmenter.num_aug

    @property
    def feature_bank(self):
        """The FeatureBank of the augmenter, if its method uses one."""
        return getattr(self.augmenter, 'bank', None)

    def augment(self, feats: Tensor) -> Optional[Tensor]:
        """k FA copies (N, k, D) of l2-normalised ``feats``, None without FA."""
        if self.augmenter is None:
            return None
        return self.augmenter(
            torch.nn.functional.normalize(feats, dim=-1))

    def positive(self, feats: Tensor) -> Tensor:
        """The positive side, detached when ``stop_grad``."""
        return feats.detach() if self.stop_grad else feats

    def stash_for_bank(self, positive_proj: Tensor) -> None:
        """Hand the positive-view projections to the bank (training only); the
        ``FeatureBankHook`` enqueues them after the iteration."""
        bank = self.feature_bank
        if bank is not None and self.training:
            bank.stash(positive_proj)

    def combine(self, loss_orig: Tensor,
                loss_fa: Union[List[Tensor], None]) -> Tensor:
        """Average or free-loss combination of the original and FA terms."""
        if not loss_fa:
            return loss_orig
        total = loss_orig + torch.stack(loss_fa).sum()
        return total if self.free_loss else total / (len(loss_fa) + 1)
