# Copyright (c) mmfa contributors. All rights reserved.
"""mmfa's data: the offline dataset generators (:mod:`.generators`) and the collate
function that makes the augmented views in the loader workers; training reads the
generators' output, and ImageNet / VOC, with mmpretrain's and mmdet's datasets."""
from .batch_view_collate import batch_view_collate
from .generators import *  # noqa: F401,F403
from .generators import __all__ as _generators_all

__all__ = ['batch_view_collate'] + list(_generators_all)
