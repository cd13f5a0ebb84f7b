# Copyright (c) mmfa contributors. All rights reserved.
from .batch_view_augmentor import (BATCHED_TRANSFORMS, BatchViewAugmentor,
                                   build_batched_transform,
                                   split_multiview_pipeline)

__all__ = [
    'BatchViewAugmentor', 'BATCHED_TRANSFORMS', 'build_batched_transform',
    'split_multiview_pipeline'
]
