# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmfa.registry import MODELS
from ..utils import gather_features, get_rank_world
from .fa_head_mixin import FAHeadMixin


@MODELS.register_module()
class FAContrastiveHead(BaseModule, FAHeadMixin):
    """InfoNCE over the other view with feature-augmented positives.

    Eq. 1 of Zhang et al., arXiv:2410.12396 (docs/design.md §2)::

        L_i(a, b) = -log exp(a_i.b_i / tau) / sum_k exp(a_i.b_k / tau)

    with l2-normalised a, b; the negatives are the other view's features of the
    *global* batch (an N x N logit matrix with the positives on the diagonal, not
    SimCLR's 2N-1 set). The positive side is all-gathered with ``gather_features``
    (gradient summed over ranks, then the local slice), the anchors stay local, so
    DDP's gradient average equals one process over the global batch. Each FA copy j
    adds eq. 2: the same loss with b (or a, for FA on the anchor side) replaced by
    FA_j(b) in the numerator and in every term of the denominator.

    The algorithm decides where FA sits (docs/design.md §6) and passes, per direction,
    ``anchor``, ``positive`` and one of ``fa_anchor`` / ``fa_positive``.

    Args:
        augmenter (dict, optional): FA method config; None is the no-FA baseline.
        num_aug (int, optional): k FA copies (None: the augmenter's default).
        free_loss (bool): Sum instead of average of the k + 1 terms.
            Defaults to False.
        stop_grad (bool): No gradient through z_i+ and FA(z_i+). Defaults to True.
        symmetric (bool): Each view serves once as anchor and once as positive and
            the two losses are averaged (as NNCLR does); False gives the one-sided
            eq. 1. Defaults to True.
        temperature (float): tau. Defaults to 0.2.
        fa_mode (str): ``'add'`` (the paper's eq. 1 + eq. 2 terms, default),
            ``'replace'`` (NNCLR: eq. 2 terms only) or ``'average'`` (MSF: k
            counts the original term); see ``FAHeadMixin`` and docs/design.md
            §15.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 augmenter: Optional[dict] = None,
                 num_aug: Optional[int] = None,
                 free_loss: bool = False,
                 stop_grad: bool = True,
                 symmetric: bool = True,
                 temperature: float = 0.2,
                 fa_mode: str = 'add',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self._init_fa(augmenter, num_aug, free_loss, stop_grad, fa_mode)
        self.symmetric = symmetric
        self.temperature = temperature

    def info_nce(self, anchor: Tensor, positive: Tensor) -> Tensor:
        """Mean eq. 1 over the local anchors, negatives from the global batch.

        Args:
            anchor (Tensor): Local anchors (n, D).
            positive (Tensor): Local positives (n, D); gathered over ranks here.
        """
        anchor = F.normalize(anchor, dim=-1)
        positive = gather_features(F.normalize(positive, dim=-1))
        logits = anchor @ positive.t() / self.temperature
        rank, _ = get_rank_world()
        # Local sample i sits at global column offset + i (equal local batches).
        offset = rank * anchor.shape[0]
        labels = torch.arange(
            offset, offset + anchor.shape[0], device=anchor.device)
        return F.cross_entropy(logits, labels)

    def direction_loss(self,
                       anchor: Tensor,
                       positive: Tensor,
                       fa_anchor: Optional[Tensor] = None,
                       fa_positive: Optional[Tensor] = None
                       ) -> Dict[str, Tensor]:
        """Original and FA terms of one direction (anchor view -> positive view).

        Args:
            anchor (Tensor): a, (n, D).
            positive (Tensor): b, (n, D); detached here when ``stop_grad``.
            fa_anchor (Tensor, optional): FA copies replacing a, (n, k, D).
            fa_positive (Tensor, optional): FA copies replacing b, (n, k, D);
                detached here when ``stop_grad``.
        """
        # 'replace' drops the original term from the loss: logged only.
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.replaces_positive):
            loss_orig = self.info_nce(anchor, self.positive(positive))
        loss_fa: List[Tensor] = []
        if fa_anchor is not None:
            loss_fa += [
                self.info_nce(fa_anchor[:, j], self.positive(positive))
                for j in range(fa_anchor.shape[1])
            ]
        if fa_positive is not None:
            fa_positive = self.positive(fa_positive)
            loss_fa += [
                self.info_nce(anchor, fa_positive[:, j])
                for j in range(fa_positive.shape[1])
            ]
        return dict(
            loss=self.combine(loss_orig, loss_fa),
            nce_orig=loss_orig.detach(),
            nce_fa=(torch.stack(loss_fa).mean().detach()
                     if loss_fa else loss_orig.new_zeros(())))

    def loss(self, directions: List[Dict[str, Tensor]]) -> Dict[str, Tensor]:
        """Mean over the directions of :meth:`direction_loss`.

        Args:
            directions (list[dict]): Keyword arguments of ``direction_loss``, one
                dict per direction (two when symmetric).

        Returns:
            dict: ``loss`` (to optimise), ``nce_orig`` and ``nce_fa`` (logged;
                named without 'loss' so mmengine does not add them to the total).
        """
        results = [self.direction_loss(**d) for d in directions]
        return {
            key: torch.stack([r[key] for r in results]).mean()
            for key in results[0]
        }
