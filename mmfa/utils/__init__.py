# Copyright (c) mmfa contributors. All rights reserved.
from .compat import apply_compat_patches, load_checkpoint_file
from .setup_env import register_all_modules, setup_runtime

__all__ = [
    'apply_compat_patches', 'load_checkpoint_file', 'register_all_modules',
    'setup_runtime'
]
