# Copyright (c) mmfa contributors. All rights reserved.
from .knn import knn_classify
from .pretrained import (load_checkpoint_state_dict, load_pretrained_strict,
                         select_prefixed_state_dict, summarise_keys)

__all__ = [
    'knn_classify', 'load_checkpoint_state_dict', 'load_pretrained_strict',
    'select_prefixed_state_dict', 'summarise_keys'
]
