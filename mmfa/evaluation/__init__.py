# Copyright (c) mmfa contributors. All rights reserved.
"""Downstream evaluation: kNN and VOC detection metrics, strict pre-trained loading."""
from .functional import *  # noqa: F401,F403
from .initializers import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
