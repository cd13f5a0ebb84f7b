# Copyright (c) mmfa contributors. All rights reserved.
from .cpu_ddp import MMFADistributedDataParallel

__all__ = ['MMFADistributedDataParallel']
