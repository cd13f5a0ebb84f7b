# Copyright (c) mmfa contributors. All rights reserved.
from .fa_contrastive_head import FAContrastiveHead
from .fa_head_mixin import FAHeadMixin
from .fa_latent_predict_head import FALatentPredictHead

__all__ = ['FAContrastiveHead', 'FALatentPredictHead', 'FAHeadMixin']
