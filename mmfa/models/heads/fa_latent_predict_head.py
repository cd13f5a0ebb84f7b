# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmfa.registry import MODELS
from .fa_head_mixin import FAHeadMixin


@MODELS.register_module()
class FALatentPredictHead(BaseModule, FAHeadMixin):
    """BYOL's latent-predict head with feature-augmented targets.

    Instance similarity with FA (Zhang et al., arXiv:2410.12396, Table IV): the online
    projection goes through the predictor, p = pred(z); the loss compares p with the
    target (momentum) projection t+ of the other view and, for each FA copy j, with
    FA_j(t+) (the Parallel-predictor layout). The per-pair loss is mmpretrain's
    ``CosineSimilarityLoss`` (by default ``-cos``; BYOL's ``2 - 2 cos`` up to a
    constant). Unlike mmpretrain's ``LatentPredictHead``, which always detaches the
    target, the target's stop-gradient is a flag.

    Args:
        predictor (dict): The predictor config (e.g. ``NonLinearNeck``).
        loss (dict): The per-pair loss config.
        augmenter (dict, optional): FA method config; None is plain BYOL.
        num_aug (int, optional): k FA copies (None: the augmenter's default).
        free_loss (bool): Sum instead of average of the k + 1 terms.
        stop_grad (bool): Detach the target and FA(target). Defaults to True.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 predictor: dict,
                 loss: dict = dict(type='CosineSimilarityLoss'),
                 augmenter: Optional[dict] = None,
                 num_aug: Optional[int] = None,
                 free_loss: bool = False,
                 stop_grad: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.predictor = MODELS.build(predictor)
        self.loss_module = MODELS.build(loss)
        self._init_fa(augmenter, num_aug, free_loss, stop_grad)

    def loss(self, input: Tensor, target: Tensor) -> Dict[str, Tensor]:
        """Combined loss of one direction.

        Args:
            input (Tensor): Online projections z (n, D).
            target (Tensor): Target projections t+ of the other view (n, D).

        Returns:
            dict: ``loss`` and the logged ``sim_orig`` / ``sim_fa`` terms.
        """
        pred = self.predictor([input])[0]
        target = self.positive(target)
        loss_orig = self.loss_module(pred, target)
        fa_target = self.augment(target)
        loss_fa = []
        if fa_target is not None:
            fa_target = self.positive(fa_target)
            loss_fa = [
                self.loss_module(pred, fa_target[:, j])
                for j in range(fa_target.shape[1])
            ]
        return dict(
            loss=self.combine(loss_orig, loss_fa),
            sim_orig=loss_orig.detach(),
            sim_fa=(torch.stack(loss_fa).mean().detach()
                    if loss_fa else loss_orig.new_zeros(())))
