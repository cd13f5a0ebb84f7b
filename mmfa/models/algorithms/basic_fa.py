# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict

from torch import Tensor

from mmfa.registry import MODELS
from .base import BaseFAInstanceDiscrimination


@MODELS.register_module()
class BasicFA(BaseFAInstanceDiscrimination):
    """Basic layout: SimCLR-style, no predictor (Zhang et al., arXiv:2410.12396,
    Fig. 2(a); docs/design.md §6). Original pair (z_i, z_i+), FA pair (z_i, FA(z_i+)).

    The projector is SimCLR's 2-layer MLP without BN (mmpretrain's
    ``MoCoV2Neck``) or, for the "+ strong projector" rows of Table I, the
    3-layer BN projector (``NonLinearNeck``). Args: see ``BaseFAInstanceDiscrimination`` (no predictor).
    """

    with_predictor_required = False

    def pair(self, anchor_view: Dict[str, Tensor],
             positive_view: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return dict(
            anchor=anchor_view['z'],
            positive=positive_view['z'],
            fa_positive=self.head.augment(
                self.head.positive(positive_view['z'])))
