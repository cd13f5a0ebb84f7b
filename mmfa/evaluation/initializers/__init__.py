# Copyright (c) mmfa contributors. All rights reserved.
from .pretrained_strict import PretrainedStrictInit

__all__ = ['PretrainedStrictInit']
