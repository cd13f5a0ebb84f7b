# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict

import torch
from torch import Tensor

from mmfa.registry import MODELS
from .base import BaseFAInstanceDiscrimination


@MODELS.register_module()
class PrePredictorFA(BaseFAInstanceDiscrimination):
    """Pre-predictor-FA (Zhang et al., arXiv:2410.12396, Fig. 2(d)): FA acts on the
    anchor's projection before the predictor. Original pair (p_i, z_i+) with
    p_i = pred(z_i); FA pair (pred(FA(z_i)), z_i+). The stop-gradient acts on the
    positive side z_i+; the FA branch back-propagates through the predictor and FA
    into z_i. Args: see ``BaseFAInstanceDiscrimination``.

    The predictor sees the same kind of input in both branches (docs/design.md §6.3):

    - scale: the FA methods act on the l2-normalised projection (their noise, bank
      entries and partners are unit-norm), and their output is rescaled by
      ``||z_i||`` before the predictor, ``FA_pre(z_i) = ||z_i|| * FA(z_i / ||z_i||)``.
      The original branch keeps ``pred(z_i)``, so the layout without FA is the same
      network as Parallel- and Post-predictor (one no-FA baseline in Table I), and
      an identity FA makes the FA term equal the original term.
    - batch: each FA copy j goes through the predictor as its own batch of N
      samples, the size and composition of the original branch's batch, so its
      BatchNorm statistics are those of N projections (k * N copies in one batch
      would change them, and mix copies of one sample into the statistics).
    """

    def pair(self, anchor_view: Dict[str, Tensor],
             positive_view: Dict[str, Tensor]) -> Dict[str, Tensor]:
        z = anchor_view['z']
        fa = self.head.augment(z)  # FA of l2(z), (n, k, D)
        fa_anchor = None
        if fa is not None:
            fa_z = fa * z.norm(dim=-1, keepdim=True).unsqueeze(1)
            fa_anchor = torch.stack(
                [self.predict_latent(fa_z[:, j]) for j in range(fa.shape[1])],
                dim=1)
        return dict(
            anchor=anchor_view['p'],
            positive=positive_view['z'],
            fa_anchor=fa_anchor)
