# Copyright (c) mmfa contributors. All rights reserved.
from .amp import amp_optim_wrapper
from .channels_last import channels_last_preprocessor
from .checkpoint_io import (CheckpointError, UntrustedCheckpointError,
                            checkpoint_trusted, set_checkpoint_trust)
from .compat import apply_compat_patches, load_checkpoint_file
from .config_checks import (ConfigKeyError, DictAction, UnreadableImageError,
                            one_line_error)
from .model_index import ModelIndexError, load_model_index
from .setup_env import register_all_modules, setup_runtime

__all__ = [
    'amp_optim_wrapper', 'channels_last_preprocessor', 'apply_compat_patches',
    'load_checkpoint_file', 'register_all_modules',
    'setup_runtime', 'CheckpointError', 'UntrustedCheckpointError',
    'checkpoint_trusted', 'set_checkpoint_trust', 'ConfigKeyError',
    'DictAction', 'UnreadableImageError', 'one_line_error', 'ModelIndexError',
    'load_model_index'
]
