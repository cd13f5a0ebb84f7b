# Copyright (c) mmfa contributors. All rights reserved.
"""The ``--amp`` switch of tools/train.py and benchmark_train.py."""
import torch

__all__ = ['amp_optim_wrapper']


def amp_optim_wrapper(optim_wrapper: dict) -> dict:
    """mmengine's ``AmpOptimWrapper`` in place of the config's optimizer wrapper:
    bfloat16 autocast where the GPU supports it (no loss scaling needed), else
    float16 with a dynamic loss scale. The feature bank keeps fp32 entries and
    ranks neighbours in fp32 under autocast (``FeatureBank.query``).

    Args:
        optim_wrapper (dict): The config's ``optim_wrapper``; updated in place.

    Returns:
        dict: The updated config.
    """
    optim_wrapper['type'] = 'AmpOptimWrapper'
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        optim_wrapper.setdefault('dtype', 'bfloat16')
    else:
        optim_wrapper.setdefault('loss_scale', 'dynamic')
    return optim_wrapper
