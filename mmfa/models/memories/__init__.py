# Copyright (c) mmfa contributors. All rights reserved.
from .feature_bank import FeatureBank

__all__ = ['FeatureBank']
