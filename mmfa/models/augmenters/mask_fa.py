# Copyright (c) mmfa contributors. All rights reserved.
import torch
from torch import Tensor

from mmfa.registry import MODELS
from .base import BaseFeatureAugmenter

__all__ = ['MaskFA']


@MODELS.register_module()
class MaskFA(BaseFeatureAugmenter):
    """Mask feature augmentation: independent Bernoulli zero masks.

    Zhang et al., "Feature Augmentation for Self-supervised Contrastive Learning: A
    Closer Look", arXiv:2410.12396, sec. 3. Each element of each copy is zeroed
    with probability ``ratio``, independently per element, sample and copy. Unlike
    dropout the surviving elements are *not* rescaled by 1 / (1 - ratio) (the paper's
    rule; the loss l2-normalises anyway). The gradient flows through the survivors.

    Args:
        ratio (float): Probability of zeroing an element, in [0, 1). Defaults to 0.2
            (the paper finds 0.5 harmful).
        num_aug (int): Number of augmented copies. Defaults to 1.
    """

    def __init__(self, ratio: float = 0.2, num_aug: int = 1) -> None:
        super().__init__(num_aug=num_aug)
        if not 0 <= ratio < 1:
            raise ValueError(
                f'MaskFA: ratio is the masking probability and must be in [0, 1), '
                f'got {ratio!r} (the paper uses 0.2).')
        self.ratio = float(ratio)

    def extra_repr(self) -> str:
        return f'ratio={self.ratio}, num_aug={self.num_aug}'

    def augment(self, feats: Tensor) -> Tensor:
        n, d = feats.shape
        u = torch.rand((n, self.num_aug, d),
                       generator=self.generator(feats.device),
                       device=feats.device)
        keep = (u >= self.ratio).to(feats.dtype)
        return feats.unsqueeze(1) * keep
