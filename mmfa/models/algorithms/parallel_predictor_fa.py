# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict

from torch import Tensor

from mmfa.registry import MODELS
from .base import BaseFAInstanceDiscrimination


@MODELS.register_module()
class ParallelPredictorFA(BaseFAInstanceDiscrimination):
    """Parallel-predictor-FA, the paper's choice (Zhang et al., arXiv:2410.12396,
    Fig. 2(b); docs/design.md §6): FA runs beside the predictor on the positive
    projections. Original pair (p_i, z_i+), FA pair (p_i, FA(z_i+)); the
    stop-gradient acts on z_i+ and FA(z_i+). Args: see
    ``BaseFAInstanceDiscrimination``.
    """

    def pair(self, anchor_view: Dict[str, Tensor],
             positive_view: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return dict(
            anchor=anchor_view['p'],
            positive=positive_view['z'],
            fa_positive=self.head.augment(
                self.head.positive(positive_view['z'])))
