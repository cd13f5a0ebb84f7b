# Copyright (c) mmfa contributors. All rights reserved.
from .feature_bank_hook import FeatureBankHook

__all__ = ['FeatureBankHook']
