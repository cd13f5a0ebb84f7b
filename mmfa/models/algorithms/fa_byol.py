# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmpretrain.models import BaseSelfSupervisor, CosineEMA
from mmpretrain.structures import DataSample
from torch import Tensor

from mmfa.registry import MODELS
from ..heads.fa_latent_predict_head import BYOL_STOP_GRAD_REMOVED


@MODELS.register_module()
class FABYOL(BaseSelfSupervisor):
    """BYOL with feature augmentation on the target projections (instance
    similarity; Zhang et al., arXiv:2410.12396, Tables IV-V; docs/design.md §7).

    mmpretrain's BYOL (online backbone + projector + predictor, a ``CosineEMA``
    target) with an ``FALatentPredictHead``: the online prediction of one view is
    pulled towards the target projection t+ of the other view and towards its FA
    copies FA_j(t+) (Parallel-predictor layout). The loss keeps mmpretrain's form
    ``2 * (loss_1 + loss_2)`` over the two directions, so with FA disabled it equals
    mmpretrain's BYOL. The target projections of view 2 are enqueued into
    the bank of the NN methods after both directions' loss (docs/design.md §5).

    There is no stop-gradient flag: the target network is an EMA copy of the online
    network whose parameters the optimiser never updates (they do not require
    gradients) and its projections are computed under ``torch.no_grad``, so no
    gradient can reach it, FA branch included. A config that still sets
    ``stop_grad`` (on the model or its head) raises a ``ValueError`` saying so.

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projector config (BYOL: NonLinearNeck 2048-4096-256).
        head (dict): ``FALatentPredictHead`` config.
        target_decay (float): The paper's EMA coefficient tau of the target,
            0.99 rising to 1.0 on a cosine schedule. mmpretrain's ``CosineEMA``
            takes ``momentum = 1 - tau``. Defaults to 0.99.
        pretrained (str, optional): Checkpoint to initialise from.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 target_decay: float = 0.99,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None,
                 **kwargs) -> None:
        if 'stop_grad' in kwargs or (isinstance(head, dict)
                                     and 'stop_grad' in head):
            raise ValueError(BYOL_STOP_GRAD_REMOVED)
        if kwargs:
            raise TypeError(
                f'FABYOL got unexpected argument(s) {sorted(kwargs)}.')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not 0. <= target_decay <= 1.:
            raise ValueError(
                f'target_decay (tau) must be in [0, 1], got {target_decay}')
        self.target_net = CosineEMA(
            nn.Sequential(self.backbone, self.neck),
            momentum=1. - target_decay)

    def loss(self, inputs: List[Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Forward both views through the online and target networks.

        Args:
            inputs (list[Tensor]): The two views.
            data_samples (list[DataSample]): Unused.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('FABYOL takes two views; use '
                             'MultiView(num_views=2) in the pipeline.')
        img_v1, img_v2 = inputs
        proj_online_v1 = self.neck(self.backbone(img_v1))[0]
        proj_online_v2 = self.neck(self.backbone(img_v2))[0]
        with torch.no_grad():
            self.target_net.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            proj_target_v1 = self.target_net(img_v1)[0]
            proj_target_v2 = self.target_net(img_v2)[0]
        out_1 = self.head.loss(proj_online_v1, proj_target_v2)
        out_2 = self.head.loss(proj_online_v2, proj_target_v1)
        self.head.enqueue_for_bank(proj_target_v2)
        losses = dict(loss=2. * (out_1['loss'] + out_2['loss']))
        for key in out_1:
            if key != 'loss':
                losses[key] = (out_1[key] + out_2[key]) / 2
        return losses
