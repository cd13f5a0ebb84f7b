# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ContrastiveHead
from torch import Tensor

from mmfa.registry import MODELS
from .fa_head_mixin import FAHeadMixin


@MODELS.register_module()
class FAMoCoHead(ContrastiveHead, FAHeadMixin):
    """MoCo v2's contrastive head with feature-augmented keys (docs/design.md §15).

    mmpretrain's ``ContrastiveHead`` (``loss(pos, neg)`` is inherited unchanged, so
    the head also serves mmpretrain's own ``MoCo``) plus :meth:`fa_loss`, which
    ``FAMoCo`` calls with the queries q, the keys k and the queue. The original
    term is MoCo's: logits ``[q_i . k_i, q_i . queue] / tau``, label 0. Each FA copy
    j of the key is one more positive against the *same* queue negatives (eq. 2's
    rule, the queue playing the batch's role): ``[q_i . l2(FA_j(k_i)), q_i .
    queue] / tau``. The terms combine as ``fa_mode`` and ``free_loss`` say. The keys
    come from the momentum encoder without gradient, so the positive side is
    always stopped (no ``stop_grad`` flag).

    Args:
        loss (dict): The cross-entropy config. Defaults to
            ``dict(type='CrossEntropyLoss')``.
        temperature (float): tau. Defaults to 0.2 (MoCo v2).
        augmenter (dict, optional): FA method config; None is plain MoCo v2.
        num_aug (int, optional): k FA copies (None: the augmenter's default).
        free_loss (bool): Sum instead of average of the terms.
        fa_mode (str): ``'add'``, ``'replace'`` or ``'average'``
            (``FAHeadMixin``).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 loss: dict = dict(type='CrossEntropyLoss'),
                 temperature: float = 0.2,
                 augmenter: Optional[dict] = None,
                 num_aug: Optional[int] = None,
                 free_loss: bool = False,
                 fa_mode: str = 'add',
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        super().__init__(loss=loss, temperature=temperature, init_cfg=init_cfg)
        self._init_fa(
            augmenter, num_aug, free_loss, stop_grad=True, fa_mode=fa_mode)

    def fa_loss(self, query: Tensor, key: Tensor,
                queue: Tensor) -> Dict[str, Tensor]:
        """MoCo's loss with FA copies of the keys as extra positives.

        Args:
            query (Tensor): l2-normalised queries q (n, C).
            key (Tensor): l2-normalised keys k (n, C) of the momentum encoder.
            queue (Tensor): The negatives (C, K), as mmpretrain's ``MoCo`` keeps
                them.

        Returns:
            dict: ``loss`` and the logged ``nce_orig`` / ``nce_fa`` terms.
        """
        key = key.detach()
        # Same expressions as mmpretrain's MoCo, so FA off is its loss exactly.
        l_neg = torch.einsum('nc,ck->nk', [query, queue.clone().detach()])
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.replaces_positive):
            l_pos = torch.einsum('nc,nc->n', [query, key]).unsqueeze(-1)
            loss_orig = self.loss(l_pos, l_neg)
        loss_fa = []
        fa_key = self.augment(key)
        if fa_key is not None:
            for j in range(fa_key.shape[1]):
                # eq. 2 l2-normalises the FA copy inside the loss.
                pos_j = torch.einsum('nc,nc->n', [
                    query, F.normalize(fa_key[:, j], dim=-1)
                ]).unsqueeze(-1)
                loss_fa.append(self.loss(pos_j, l_neg))
        return dict(
            loss=self.combine(loss_orig, loss_fa),
            nce_orig=loss_orig.detach(),
            nce_fa=(torch.stack(loss_fa).mean().detach()
                    if loss_fa else loss_orig.new_zeros(())))
