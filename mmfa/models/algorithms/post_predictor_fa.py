# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict

from torch import Tensor

from mmfa.registry import MODELS
from .base import BaseFAInstanceDiscrimination


@MODELS.register_module()
class PostPredictorFA(BaseFAInstanceDiscrimination):
    """Post-predictor-FA (Zhang et al., arXiv:2410.12396, Fig. 2(c); docs/design.md
    §6): FA acts on the anchor's prediction. Original pair (p_i, z_i+), FA pair
    (FA(p_i), z_i+); the stop-gradient acts on the positive side z_i+, the FA branch
    back-propagates through FA into p_i. FA acts on l2(p_i) and its output goes
    straight into the loss, which l2-normalises it, so its scale does not matter
    here (unlike Pre-predictor-FA). Args: see ``BaseFAInstanceDiscrimination``.
    """

    def pair(self, anchor_view: Dict[str, Tensor],
             positive_view: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return dict(
            anchor=anchor_view['p'],
            positive=positive_view['z'],
            fa_anchor=self.head.augment(anchor_view['p']))
