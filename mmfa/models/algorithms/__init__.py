# Copyright (c) mmfa contributors. All rights reserved.
from .asymmetric_fa_byol import AsymmetricFABYOL
from .base import BaseFAInstanceDiscrimination
from .basic_fa import BasicFA
from .fa_byol import FABYOL
from .fa_moco import FAMoCo
from .fa_simsiam import FASimSiam
from .parallel_predictor_fa import ParallelPredictorFA
from .post_predictor_fa import PostPredictorFA
from .pre_predictor_fa import PrePredictorFA

__all__ = [
    'BaseFAInstanceDiscrimination', 'BasicFA', 'ParallelPredictorFA',
    'PostPredictorFA', 'PrePredictorFA', 'FABYOL', 'AsymmetricFABYOL',
    'FAMoCo', 'FASimSiam'
]
