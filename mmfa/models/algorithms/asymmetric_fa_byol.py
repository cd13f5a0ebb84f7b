# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, List

import torch
import torch.nn as nn
from mmpretrain.structures import DataSample
from torch import Tensor

from mmfa.registry import MODELS
from .fa_byol import FABYOL


@MODELS.register_module()
class AsymmetricFABYOL(FABYOL):
    """FA-BYOL with one direction: view 1 is the query, view 2 the target
    (docs/design.md §15; MSF's form, Koohpayegani et al., ICCV 2021).

    ``FABYOL``'s networks and head; the online prediction of view 1 is pulled
    towards the target projection t of view 2 and its FA copies, and there is no
    reverse direction (MSF computes its loss from the strong view's query and the
    weak view's target only). The loss is ``2 * head_loss``: with
    ``CosineSimilarityLoss`` each term is ``-2 cos``, MSF's squared distance
    ``2 - 2 cos`` of l2-normalised vectors up to a constant, so the gradient is
    MSF's. The target EMA rises on a cosine from ``target_decay`` to
    ``target_decay_end`` (MSF keeps 0.99 constant: both 0.99). View 2's target
    projections are enqueued into the bank of the NN methods after the loss
    (docs/design.md §5).

    Args:
        target_decay_end (float): The EMA coefficient tau at the end of
            training. Defaults to 1.0 (BYOL's schedule).
        **kwargs: ``FABYOL``'s arguments.
    """

    def __init__(self, *args, target_decay_end: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not 0. <= target_decay_end <= 1.:
            raise ValueError('target_decay_end (tau at the end) must be in '
                             f'[0, 1], got {target_decay_end}')
        # mmpretrain's CosineEMA takes momentum = 1 - tau at both ends.
        self.target_net.end_momentum = 1. - target_decay_end

    def loss(self, inputs: List[Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Query view 1 through the online network, target view 2 through the
        target network.

        Args:
            inputs (list[Tensor]): The query view and the target view.
            data_samples (list[DataSample]): Unused.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('AsymmetricFABYOL takes two views (query, target); '
                             'use MultiView(num_views=[1, 1]) in the pipeline.')
        img_q, img_t = inputs
        proj_online = self.neck(self.backbone(img_q))[0]
        with torch.no_grad():
            self.target_net.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            proj_target = self.target_net(img_t)[0]
        out = self.head.loss(proj_online, proj_target)
        self.head.enqueue_for_bank(proj_target)
        losses = dict(loss=2. * out['loss'])
        losses.update((k, v) for k, v in out.items() if k != 'loss')
        return losses
