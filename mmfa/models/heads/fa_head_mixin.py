# Copyright (c) mmfa contributors. All rights reserved.
"""What the FA heads share: building the augmenter, augmenting, feeding the bank,
and combining the original and FA loss terms (docs/design.md §3, §15)."""
from typing import List, Optional, Union

import torch
from torch import Tensor

from ..augmenters import BaseFeatureAugmenter, build_augmenter

#: How the FA terms enter the loss (docs/design.md §15).
FA_MODES = ('add', 'replace', 'average')


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
        fa_mode (str): How the FA terms enter the loss (docs/design.md §15):

            - ``'add'`` (default, the paper's): the original term plus k FA
              terms, averaged over the k + 1 or summed (``free_loss``);
            - ``'replace'`` (NNCLR's rule): the FA copies take the place of the
              original positive; the loss is the mean (sum with ``free_loss``)
              of the k FA terms, the original term is only logged;
            - ``'average'`` (MSF's rule): ``num_aug`` = k counts the whole
              target set, the original target included, so the augmenter makes
              k - 1 copies and the loss is the mean of the k terms; the free
              loss does not apply.
    """

    def _init_fa(self,
                 augmenter: Optional[dict],
                 num_aug: Optional[int],
                 free_loss: bool,
                 stop_grad: bool,
                 fa_mode: str = 'add') -> None:
        if fa_mode not in FA_MODES:
            raise ValueError(f'fa_mode must be one of {list(FA_MODES)}, got '
                             f'{fa_mode!r}.')
        average = fa_mode == 'average'
        if average and free_loss:
            raise ValueError(
                "fa_mode='average' is MSF's mean over the target set; "
                "free_loss=True does not apply to it: use fa_mode='add' with "
                'free_loss=True for the sum of the terms.')
        if average and num_aug is not None and (isinstance(num_aug, bool) or
                                                not isinstance(num_aug, int)
                                                or num_aug < 2):
            raise ValueError(
                "fa_mode='average' needs num_aug >= 2 (the target set counts "
                f'the original target and k - 1 FA copies), got {num_aug!r}.')
        # 'average' counts the original target in k: the augmenter makes k - 1.
        copies = num_aug - 1 if (average and num_aug is not None) else num_aug
        if isinstance(augmenter, dict) and augmenter.get('type') is None:
            extra = sorted(k for k in augmenter if k != 'type')
            if extra:
                raise ValueError(
                    f'augmenter has no type but sets {extra}; name the FA '
                    "method, e.g. augmenter=dict(type='MaskFA', ratio=0.2)")
            augmenter = None
        if isinstance(augmenter, dict) and copies is not None:
            augmenter = dict(augmenter)
            augmenter.setdefault('num_aug', copies)
        self.augmenter: Optional[BaseFeatureAugmenter] = build_augmenter(
            augmenter)
        if (self.augmenter is not None and copies is not None
                and self.augmenter.num_aug != copies):
            raise ValueError(
                f'head num_aug={num_aug} (fa_mode={fa_mode!r}) needs an '
                f'augmenter making {copies} copies but it makes '
                f'{self.augmenter.num_aug}; set k in one place (the '
                'head\'s num_aug).')
        if fa_mode != 'add' and self.augmenter is None:
            raise ValueError(
                f'fa_mode={fa_mode!r} needs an FA method; set the head\'s '
                "augmenter (e.g. augmenter=dict(type='NearestNeighborFA')) or "
                "use fa_mode='add' for the no-FA baseline.")
        self.free_loss = free_loss
        self.stop_grad = stop_grad
        self.fa_mode = fa_mode

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

    def enqueue_for_bank(self, positive_proj: Tensor) -> None:
        """Write the step's positive-view projections into the bank, if the FA
        method has one (docs/design.md §5).

        The algorithm calls it once per training ``loss()``, after every loss term
        of the step (every bank query, both directions of a symmetrised loss), on
        every rank. The bank all-gathers and writes in training mode only.
        """
        bank = self.feature_bank
        if bank is not None:
            bank.enqueue(positive_proj)

    @property
    def replaces_positive(self) -> bool:
        """Whether the original term stays out of the loss (``'replace'``); a
        head then computes it without gradient, for the log only."""
        return self.fa_mode == 'replace'

    def combine(self, loss_orig: Tensor,
                loss_fa: Union[List[Tensor], None]) -> Tensor:
        """Combination of the original and FA terms (docs/design.md §3, §15).

        ``'add'``: ``(L_orig + sum_j L_FA_j) / (k + 1)``, or the sum with the free
        loss; ``'replace'``: the mean (free loss: sum) of the FA terms alone;
        ``'average'``: the mean of the original and the k - 1 FA terms.
        """
        if not loss_fa:
            return loss_orig
        fa_sum = torch.stack(loss_fa).sum()
        if self.replaces_positive:
            return fa_sum if self.free_loss else fa_sum / len(loss_fa)
        total = loss_orig + fa_sum
        return total if self.free_loss else total / (len(loss_fa) + 1)
