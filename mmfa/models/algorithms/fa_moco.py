# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, List

import torch
import torch.nn as nn
from mmpretrain.models import MoCo
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.structures import DataSample
from torch import Tensor

from mmfa.registry import MODELS


@MODELS.register_module()
class FAMoCo(MoCo):
    """MoCo v2 with feature augmentation on the keys (docs/design.md §15).

    mmpretrain's ``MoCo`` (momentum key encoder, queue of negatives, ShuffleBN);
    only the loss is new: the head must be an ``FAMoCoHead``, which adds FA copies
    of the key k as extra positives against the same queue negatives. With FA off
    the loss is mmpretrain's MoCo loss on the same weights and inputs. After the loss
    the keys are enqueued into the bank of the NN methods (it holds keys, the
    positive-view projections, docs/design.md §5), as mmpretrain's queue is.

    Args: see mmpretrain's ``MoCo`` (``queue_len``, ``feat_dim``, ``momentum``).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not hasattr(self.head, 'fa_loss'):
            raise TypeError(
                f'FAMoCo needs an FAMoCoHead, got {type(self.head).__name__}; '
                "set model.head.type='FAMoCoHead'.")

    def loss(self, inputs: List[Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, Tensor]:
        """Queries from view 1, keys from view 2, as mmpretrain's ``MoCo``.

        Args:
            inputs (list[Tensor]): The two views.
            data_samples (list[DataSample]): Unused.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError('FAMoCo takes two views; use '
                             'MultiView(num_views=2) in the pipeline.')
        im_q, im_k = inputs
        q = nn.functional.normalize(self.neck(self.backbone(im_q))[0], dim=1)
        with torch.no_grad():
            self.encoder_k.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            im_k, idx_unshuffle = batch_shuffle_ddp(im_k)
            k = nn.functional.normalize(self.encoder_k(im_k)[0], dim=1)
            k = batch_unshuffle_ddp(k, idx_unshuffle)
        losses = self.head.fa_loss(q, k, self.queue)
        self.head.enqueue_for_bank(k)
        self._dequeue_and_enqueue(k)
        return losses
