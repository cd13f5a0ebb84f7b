# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmfa.registry import MODELS
from .fa_head_mixin import FAHeadMixin

#: Why FA-BYOL has no ``stop_grad`` flag (raised when a config still sets one).
BYOL_STOP_GRAD_REMOVED = (
    'FA-BYOL has no stop_grad flag: BYOL always stops the gradient at the '
    'target. The target network is an exponential-moving-average copy of the '
    'online network that the optimiser never updates, and its projections (and '
    'FA of them) are computed without gradient, so stop_grad=False could not '
    'change anything. Remove the stop_grad key from the FA-BYOL config '
    '(model.head); the stop-gradient ablation (Table II) belongs to the '
    'instance-discrimination layouts (FAContrastiveHead). See docs/design.md §7.')


@MODELS.register_module()
class FALatentPredictHead(BaseModule, FAHeadMixin):
    """BYOL's latent-predict head with feature-augmented targets.

    Instance similarity with FA (Zhang et al., arXiv:2410.12396, Table IV;
    docs/design.md §7): the online projection goes through the predictor,
    p = pred(z); the loss compares p with the target (momentum) projection t+ of the
    other view and, for each FA copy j, with FA_j(t+) (the Parallel-predictor
    layout). The per-pair loss is mmpretrain's ``CosineSimilarityLoss`` (by default
    ``-cos``; BYOL's ``2 - 2 cos`` up to a constant). As in mmpretrain's
    ``LatentPredictHead`` the target is always detached: BYOL's stop-gradient is
    inherent (the target network is an EMA copy the optimiser never updates), so
    there is no ``stop_grad`` flag and setting one is a ``ValueError``.

    Args:
        predictor (dict): The predictor config (e.g. ``NonLinearNeck``).
        loss (dict): The per-pair loss config.
        augmenter (dict, optional): FA method config; None is plain BYOL.
        num_aug (int, optional): k FA copies (None: the augmenter's default).
        free_loss (bool): Sum instead of average of the k + 1 terms.
        fa_mode (str): ``'add'`` (default), ``'replace'`` (the target replaced
            by its FA copies) or ``'average'`` (MSF: the mean over a target set
            of ``num_aug`` members, the target itself included); see
            ``FAHeadMixin`` and docs/design.md §15.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 predictor: dict,
                 loss: dict = dict(type='CosineSimilarityLoss'),
                 augmenter: Optional[dict] = None,
                 num_aug: Optional[int] = None,
                 free_loss: bool = False,
                 fa_mode: str = 'add',
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        if 'stop_grad' in kwargs:
            raise ValueError(BYOL_STOP_GRAD_REMOVED)
        if kwargs:
            raise TypeError('FALatentPredictHead got unexpected argument(s) '
                            f'{sorted(kwargs)}.')
        super().__init__(init_cfg=init_cfg)
        self.predictor = MODELS.build(predictor)
        self.loss_module = MODELS.build(loss)
        # The target side is always detached (``self.stop_grad`` reads True).
        self._init_fa(
            augmenter, num_aug, free_loss, stop_grad=True, fa_mode=fa_mode)

    def loss(self, input: Tensor, target: Tensor) -> Dict[str, Tensor]:
        """Combined loss of one direction.

        Args:
            input (Tensor): Online projections z (n, D).
            target (Tensor): Target projections t+ of the other view (n, D);
                detached here.

        Returns:
            dict: ``loss`` and the logged ``sim_orig`` / ``sim_fa`` terms.
        """
        pred = self.predictor([input])[0]
        target = target.detach()
        # 'replace' drops the original term from the loss: logged only.
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.replaces_positive):
            loss_orig = self.loss_module(pred, target)
        fa_target = self.augment(target)
        loss_fa = []
        if fa_target is not None:
            loss_fa = [
                self.loss_module(pred, fa_target[:, j])
                for j in range(fa_target.shape[1])
            ]
        return dict(
            loss=self.combine(loss_orig, loss_fa),
            sim_orig=loss_orig.detach(),
            sim_fa=(torch.stack(loss_fa).mean().detach()
                    if loss_fa else loss_orig.new_zeros(())))
