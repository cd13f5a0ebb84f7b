# Copyright (c) mmfa contributors. All rights reserved.
from .gather import gather_features, gather_features_nograd, get_rank_world

__all__ = ['gather_features', 'gather_features_nograd', 'get_rank_world']
