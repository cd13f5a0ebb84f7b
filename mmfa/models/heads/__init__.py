# Copyright (c) mmfa contributors. All rights reserved.
from .fa_contrastive_head import FAContrastiveHead
from .fa_head_mixin import FA_MODES, FAHeadMixin
from .fa_latent_predict_head import FALatentPredictHead
from .fa_moco_head import FAMoCoHead

__all__ = [
    'FAContrastiveHead', 'FALatentPredictHead', 'FAHeadMixin', 'FAMoCoHead',
    'FA_MODES'
]
