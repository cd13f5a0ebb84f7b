# Copyright (c) mmfa contributors. All rights reserved.
from .feature_bank_hook import FeatureBankHook
from .knn_monitor_hook import KNNMonitorHook
from .preemption_hook import PreemptionCheckpointHook

__all__ = ['FeatureBankHook', 'KNNMonitorHook', 'PreemptionCheckpointHook']
