# Copyright (c) mmfa contributors. All rights reserved.
from .mlp_neck import MLPNeck

__all__ = ['MLPNeck']
