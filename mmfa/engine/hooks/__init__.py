# Copyright (c) mmfa contributors. All rights reserved.
from .feature_bank_hook import FeatureBankHook
from .preemption_hook import PreemptionCheckpointHook

__all__ = ['FeatureBankHook', 'PreemptionCheckpointHook']
