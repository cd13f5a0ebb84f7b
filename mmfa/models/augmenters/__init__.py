# Copyright (c) mmfa contributors. All rights reserved.
from .base import BaseFeatureAugmenter
from .builder import build_augmenter, registered_augmenters
from .mask_fa import MaskFA
from .mixup_noise_fa import MixupNoiseFA
from .nearest_neighbor_fa import NearestNeighborFA

__all__ = [
    'BaseFeatureAugmenter', 'MaskFA', 'MixupNoiseFA', 'NearestNeighborFA',
    'build_augmenter', 'registered_augmenters'
]
