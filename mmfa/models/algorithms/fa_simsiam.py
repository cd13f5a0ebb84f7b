# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, List

from mmpretrain.models import SimSiam
from mmpretrain.structures import DataSample
from torch import Tensor

from mmfa.registry import MODELS


@MODELS.register_module()
class FASimSiam(SimSiam):
    """SimSiam with feature augmentation on the stop-gradient targets
    (docs/design.md §15).

    mmpretrain's ``SimSiam`` (one encoder, no momentum, a predictor, the target
    detached) with an ``FALatentPredictHead`` in place of ``LatentPredictHead``:
    each direction's prediction is also pulled towards the FA copies FA_j(z+) of
    the other view's (detached) projection, combined as FA-BYOL's (docs/design.md
    §3, §7; ``fa_mode`` and ``free_loss`` of the head). The loss keeps SimSiam's
    ``0.5 * (loss_1 + loss_2)``, so with FA off it equals mmpretrain's SimSiam on
    the same weights (the predictor is ``head.predictor`` in both, so SimSiam's
    fixed predictor learning rate, ``SimSiamHook``, applies unchanged). View 2's
    projections are enqueued into the bank of the NN methods after both
    directions' loss (docs/design.md §5).

    Args: see mmpretrain's ``SimSiam``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not hasattr(self.head, 'augment'):
            raise TypeError(
                'FASimSiam needs an FALatentPredictHead, got '
                f'{type(self.head).__name__}; set model.head.type='
                "'FALatentPredictHead'.")

    def loss(self, inputs: List[Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Both directions, as mmpretrain's ``SimSiam``.

        Args:
            inputs (list[Tensor]): The two views.
            data_samples (list[DataSample]): Unused.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('FASimSiam takes two views; use '
                             'MultiView(num_views=2) in the pipeline.')
        z1 = self.neck(self.backbone(inputs[0]))[0]
        z2 = self.neck(self.backbone(inputs[1]))[0]
        out_1 = self.head.loss(z1, z2)
        out_2 = self.head.loss(z2, z1)
        self.head.enqueue_for_bank(z2)
        losses = dict(loss=0.5 * (out_1['loss'] + out_2['loss']))
        for key in out_1:
            if key != 'loss':
                losses[key] = (out_1[key] + out_2[key]) / 2
        return losses
