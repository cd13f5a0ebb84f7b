# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, List, Optional, Union

import torch
from mmpretrain.models import BaseSelfSupervisor
from mmpretrain.structures import DataSample
from torch import Tensor

from mmfa.registry import MODELS


class BaseFAInstanceDiscrimination(BaseSelfSupervisor):
    """Shared base of the instance-discrimination FA layouts (docs/design.md §6).

    Zhang et al., "Feature Augmentation for Self-supervised Contrastive Learning: A
    Closer Look", arXiv:2410.12396, Fig. 2: Basic 2(a), Parallel-predictor 2(b),
    Post-predictor 2(c), Pre-predictor 2(d). A single encoder (no EMA) maps the two
    views to projections z = neck(backbone(x)) and, for the predictor layouts, to
    predictions p = predictor(z). Each subclass says which tensors form the original
    pair and which one feature augmentation replaces (:meth:`pair`); the
    ``FAContrastiveHead`` computes eq. 1/2 and owns the FA method, k, the free-loss,
    stop-gradient and symmetric flags. After the loss of both directions (every bank
    query of the step) the positive-view projections are enqueued into the FA
    method's bank, if it has one (docs/design.md §5).

    Args:
        backbone (dict): Backbone config (e.g. ResNet-50).
        neck (dict): Projector config (mmpretrain's ``MoCoV2Neck`` for
            SimCLR's, ``NonLinearNeck`` for the strong projector).
        head (dict): ``FAContrastiveHead`` config.
        predictor (dict, optional): Predictor config (``NonLinearNeck``
            256-4096-256); required by the predictor layouts, absent in Basic.
        pretrained (str, optional): Checkpoint to initialise from.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    #: Whether the layout needs a predictor.
    with_predictor_required = True

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 predictor: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        name = type(self).__name__
        if self.with_predictor_required and predictor is None:
            raise ValueError(f'{name} needs a predictor config (docs/design.md §6.4: '
                             'NonLinearNeck 256-4096-256).')
        if not self.with_predictor_required and predictor is not None:
            raise ValueError(f'{name} has no predictor; use '
                             'ParallelPredictorFA for a layout with one.')
        self.predictor = MODELS.build(predictor) if predictor else None

    def project(self, img: Tensor) -> Tensor:
        """z = neck(backbone(img)), (n, D)."""
        return self.neck(self.backbone(img))[0]

    def predict_latent(self, z: Tensor) -> Tensor:
        """p = predictor(z) (flattening any leading FA-copy dimension)."""
        shape = z.shape
        p = self.predictor([z.reshape(-1, shape[-1])])[0]
        return p.reshape(shape[:-1] + p.shape[-1:])

    def pair(self, anchor_view: Dict[str, Tensor],
             positive_view: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The tensors of one direction: ``anchor``, ``positive`` and
        ``fa_anchor`` or ``fa_positive`` (see ``FAContrastiveHead``).

        Args:
            anchor_view (dict): ``z`` (and ``p``) of the anchor view.
            positive_view (dict): ``z`` (and ``p``) of the positive view.
        """
        raise NotImplementedError

    def loss(self, inputs: List[Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Forward both views and compute the (symmetrised) FA loss.

        Args:
            inputs (list[Tensor]): The two views, each (n, 3, H, W).
            data_samples (list[DataSample]): Unused.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('FA instance discrimination takes two views; use '
                             "MultiView(num_views=2) in the pipeline.")
        views = []
        for img in inputs:
            z = self.project(img)
            view = dict(z=z)
            if self.predictor is not None:
                view['p'] = self.predict_latent(z)
            views.append(view)
        directions = [self.pair(views[0], views[1])]
        if self.head.symmetric:
            directions.append(self.pair(views[1], views[0]))
        losses = self.head.loss(directions)
        # The bank stores the projections z_i+ of the positive view (view 2 of
        # eq. 1's one-sided form), never predictions; one entry per image.
        self.head.enqueue_for_bank(views[1]['z'])
        return losses
