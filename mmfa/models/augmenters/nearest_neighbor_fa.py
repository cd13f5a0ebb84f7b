# Copyright (c) mmfa contributors. All rights reserved.
from typing import Optional, Union

from torch import Tensor

from mmfa.registry import MODELS
from ..memories import FeatureBank
from .base import BaseFeatureAugmenter

__all__ = ['NearestNeighborFA']


@MODELS.register_module()
class NearestNeighborFA(BaseFeatureAugmenter):
    """NN feature augmentation: copy j is the j-th most cosine-similar bank entry.

    Zhang et al., "Feature Augmentation for Self-supervised Contrastive Learning: A
    Closer Look", arXiv:2410.12396, sec. 3 (the NNCLR positive, with k neighbours).

    The method owns its :class:`~mmfa.models.memories.FeatureBank` (``self.bank``);
    the model's training loss enqueues the positive-view projections into it after
    every query of the step (docs/design.md §5), so a sample is never its own
    neighbour within a step, and entries never written are never returned. Until
    the bank holds ``topk`` written entries, or while the hook's warm-up keeps it
    disabled, the features are returned un-augmented (repeated ``topk`` times) and
    this is logged once. The neighbours are detached
    bank entries (l2-normalised), so no gradient flows through this branch.

    Args:
        topk (int, optional): Number of neighbours = augmented copies. Defaults to 1.
        bank (dict | FeatureBank): The bank or its config. Defaults to
            ``dict(type='FeatureBank', size=65536, dim=256)``.
        num_aug (int, optional): Alias of ``topk`` so every FA method accepts
            ``num_aug``; giving both with different values is an error.
    """

    requires_bank = True

    def __init__(self,
                 topk: Optional[int] = None,
                 bank: Union[dict, FeatureBank] = dict(
                     type='FeatureBank', size=65536, dim=256),
                 num_aug: Optional[int] = None) -> None:
        if topk is not None and num_aug is not None and topk != num_aug:
            raise ValueError(f'NearestNeighborFA: topk={topk} and num_aug={num_aug} '
                             'disagree; give only one of them.')
        k = topk if topk is not None else num_aug if num_aug is not None else 1
        super().__init__(num_aug=k)
        self.bank = self._build_bank(bank)

    @property
    def topk(self) -> int:
        return self.num_aug

    def augment(self, feats: Tensor) -> Tensor:
        neighbours = self._bank_neighbours(feats)
        if neighbours is None:
            return feats.unsqueeze(1).expand(-1, self.num_aug, -1).clone()
        return neighbours
