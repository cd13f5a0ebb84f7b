# Copyright (c) mmfa contributors. All rights reserved.
from .resumable_epoch_loop import ResumableEpochBasedTrainLoop

__all__ = ['ResumableEpochBasedTrainLoop']
