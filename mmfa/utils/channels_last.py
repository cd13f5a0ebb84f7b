# Copyright (c) mmfa contributors. All rights reserved.
"""The ``--channels-last`` switch of tools/train.py and benchmark_train.py."""

__all__ = ['channels_last_preprocessor']


def channels_last_preprocessor(model: dict) -> dict:
    """Make a self-supervised model's data preprocessor return channels-last
    views (docs/design.md §16): ``BatchViewAugmentor`` gets
    ``channels_last=True``; mmpretrain's ``SelfSupDataPreprocessor`` becomes
    ``BatchViewAugmentor(views=None)``, which normalises the views alike.
    Convolutions keep the format of their input; the weights stay NCHW.

    Args:
        model (dict): The config's ``model``; updated in place.

    Returns:
        dict: The updated config.

    Raises:
        ValueError: The model has another data preprocessor.
    """
    pre = model.get('data_preprocessor', None)
    name = str((pre or {}).get('type', '')).split('.')[-1]
    if name == 'SelfSupDataPreprocessor':
        pre.update(type='BatchViewAugmentor', views=None)
    elif name != 'BatchViewAugmentor':
        raise ValueError(
            '--channels-last needs a self-supervised model whose '
            'data_preprocessor is SelfSupDataPreprocessor or '
            f'BatchViewAugmentor; this config has {name or "none"}. Drop '
            '--channels-last for this config.')
    pre['channels_last'] = True
    return model
