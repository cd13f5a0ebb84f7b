# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict

from torch import Tensor

from mmfa.registry import MODELS
from .base import BaseFAInstanceDiscrimination


@MODELS.register_module()
class PrePredictorFA(BaseFAInstanceDiscrimination):
    """Pre-predictor-FA (Zhang et al., arXiv:2410.12396, Fig. 2e): FA acts on the
    anchor's projection before the predictor. Original pair (p_i, z_i+), FA pair
    (pred(FA(z_i)), z_i+); the stop-gradient acts on the positive side z_i+. Args:
    see ``BaseFAInstanceDiscrimination``.
    """

    def pair(self, anchor_view: Dict[str, Tensor],
             positive_view: Dict[str, Tensor]) -> Dict[str, Tensor]:
        fa_z = self.head.augment(anchor_view['z'])
        return dict(
            anchor=anchor_view['p'],
            positive=positive_view['z'],
            fa_anchor=None if fa_z is None else self.predict_latent(fa_z))
