# Copyright (c) mmfa contributors. All rights reserved.
"""mmfa: feature augmentation for self-supervised contrastive learning.

Zhang et al., "Feature Augmentation for Self-supervised Contrastive Learning: A Closer
Look", arXiv:2410.12396, 2024.
"""
from .utils.compat import apply_compat_patches
from .version import __version__, version_info

# The pinned stack needs these fixes before any checkpoint or `pkg::` config is loaded.
apply_compat_patches()

__all__ = ['__version__', 'version_info']
