# Copyright (c) mmfa contributors. All rights reserved.
from .det_precise_bn_hook import DetPreciseBNHook, update_bn_stats_train_mode
from .feature_bank_hook import FeatureBankHook
from .knn_monitor_hook import KNNMonitorHook
from .preemption_hook import PreemptionCheckpointHook

__all__ = [
    'DetPreciseBNHook', 'FeatureBankHook', 'KNNMonitorHook',
    'PreemptionCheckpointHook', 'update_bn_stats_train_mode'
]
