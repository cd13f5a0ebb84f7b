# Copyright (c) mmfa contributors. All rights reserved.
from .knn import KNNAccuracy
from .voc_ap import VOCDetectionAP

__all__ = ['KNNAccuracy', 'VOCDetectionAP']
