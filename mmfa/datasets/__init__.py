# Copyright (c) mmfa contributors. All rights reserved.
"""mmfa's data: the offline dataset generators (:mod:`.generators`); training reads
their output, and ImageNet / VOC, with mmpretrain's and mmdet's datasets."""
from .generators import *  # noqa: F401,F403
