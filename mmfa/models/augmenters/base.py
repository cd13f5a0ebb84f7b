# Copyright (c) mmfa contributors. All rights reserved.
"""Base class of the feature augmentation (FA) methods (docs/design.md §4)."""
import copy
import logging
from typing import Dict, Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor

from mmfa.registry import MODELS
from ..memories import FeatureBank
from ..utils import get_rank_world

__all__ = ['BaseFeatureAugmenter']


class BaseFeatureAugmenter(nn.Module):
    """Makes ``num_aug`` augmented copies of each feature, in feature space.

    Zhang et al., "Feature Augmentation for Self-supervised Contrastive Learning: A
    Closer Look", arXiv:2410.12396. FA methods act on l2-normalised features (N, D)
    (256-d projections in the paper) and return (N, num_aug, D). Decision: the output
    is *not* re-normalised, the contrastive loss normalises.

    Randomness: every method draws only from its own :class:`torch.Generator`, one
    per device, created at first use and seeded with ``torch.initial_seed()`` (set by
    mmengine's Runner from ``randomness.seed`` before the model is built) plus the
    distributed rank. Runs with one seed are therefore identical, ranks draw
    differently, and the global RNG stream (data augmentation, dropout) is left
    untouched. The random draws do not depend on the feature values, only on the
    shapes. The generator state is not saved in checkpoints: a resumed run restarts
    its FA stream from the seed.

    Args:
        num_aug (int): Number of augmented copies k. Defaults to 1.
    """

    #: Whether the method owns a :class:`FeatureBank` the model must feed.
    requires_bank = False

    def __init__(self, num_aug: int = 1) -> None:
        super().__init__()
        if isinstance(num_aug, bool) or not isinstance(num_aug,
                                                       int) or num_aug < 1:
            raise ValueError(f'{type(self).__name__}: num_aug must be a positive '
                             f'int, got {num_aug!r}.')
        self.num_aug = num_aug
        #: The owned FeatureBank, or None.
        self.bank: Optional[FeatureBank] = None
        self._generators: Dict[str, torch.Generator] = {}
        self._logged_fallback = False
        self._logged_ready = False

    def generator(self, device: Union[str, torch.device]) -> torch.Generator:
        """This augmenter's generator on ``device``, seeded at first use with
        ``torch.initial_seed() + rank``."""
        device = torch.device(device)
        key = str(device)
        gen = self._generators.get(key)
        if gen is None:
            rank, _ = get_rank_world()
            gen = torch.Generator(device=device)
            gen.manual_seed((torch.initial_seed() + rank) % 2**64)
            self._generators[key] = gen
        return gen

    def forward(self, feats: Tensor) -> Tensor:
        """Augment features.

        Args:
            feats (Tensor): l2-normalised features (N, D).

        Returns:
            Tensor: Augmented copies (N, num_aug, D), not re-normalised.
        """
        if feats.dim() != 2:
            raise ValueError(
                f'{type(self).__name__} expects features of shape (N, D), got '
                f'{tuple(feats.shape)}; flatten them first.')
        return self.augment(feats)

    def augment(self, feats: Tensor) -> Tensor:
        """The method's rule: (N, D) -> (N, num_aug, D)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f'num_aug={self.num_aug}'

    # ---- helpers of the bank-based methods -------------------------------------
    def _build_bank(self, bank: Union[dict, FeatureBank]) -> FeatureBank:
        if isinstance(bank, dict):
            bank = copy.deepcopy(bank)
            # mmfa's scope whatever the default scope (e.g. an mmdet runner's)
            bank.setdefault('_scope_', 'mmfa')
            bank = MODELS.build(bank)
        if not isinstance(bank, FeatureBank):
            raise TypeError(f'{type(self).__name__}: bank must be a FeatureBank or '
                            f'its config, got {type(bank).__name__}.')
        if bank.size < self.num_aug:
            # It could never hold k entries: FA would silently never start.
            raise ValueError(
                f'{type(self).__name__}: num_aug={self.num_aug} neighbours per '
                f'feature, but the feature bank holds at most {bank.size} '
                f'entries; use a bank with size >= {self.num_aug} (e.g. '
                f'bank=dict(type="FeatureBank", size=65536)) or a smaller num_aug.')
        return bank

    def _bank_neighbours(self, feats: Tensor) -> Optional[Tensor]:
        """The ``num_aug`` nearest written bank entries of each feature (N, k, D),
        or None while the bank cannot serve them (disabled by the hook's warm-up,
        or fewer than k entries written); the fallback is logged once."""
        bank = self.bank
        k = self.num_aug
        if not bank.query_enabled or bank.written_entries < k:
            if not self._logged_fallback:
                self._logged_fallback = True
                why = ('disabled by the FeatureBankHook warm-up'
                       if not bank.query_enabled else
                       f'holding {bank.written_entries} < {k} entries')
                print_log(
                    f'{type(self).__name__}: the feature bank is {why}; returning '
                    'the un-augmented features until it can serve '
                    f'{k} neighbour(s) (logged once).',
                    logger='current',
                    level=logging.INFO)
            return None
        if self._logged_fallback and not self._logged_ready:
            self._logged_ready = True
            print_log(
                f'{type(self).__name__}: the feature bank now holds '
                f'{bank.written_entries} entries; nearest-neighbour FA is active.',
                logger='current',
                level=logging.INFO)
        return bank.query(feats, k)[1]
