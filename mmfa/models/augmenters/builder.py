# Copyright (c) mmfa contributors. All rights reserved.
import inspect
from typing import List, Optional, Union

from mmfa.registry import MODELS
from .base import BaseFeatureAugmenter

__all__ = ['build_augmenter', 'registered_augmenters']


def registered_augmenters() -> List[str]:
    """Names of the FA methods registered in ``mmfa.registry.MODELS``."""
    MODELS.import_from_location()
    return sorted(
        name for name, cls in MODELS.module_dict.items()
        if inspect.isclass(cls) and issubclass(cls, BaseFeatureAugmenter))


def build_augmenter(
    cfg: Union[dict, BaseFeatureAugmenter, None]
) -> Optional[BaseFeatureAugmenter]:
    """Build a feature augmenter from its config.

    Args:
        cfg (dict | BaseFeatureAugmenter | None): Config such as
            ``dict(type='MaskFA', ratio=0.2)``, an already built augmenter (returned
            as is), or None (no FA, returns None).

    Returns:
        BaseFeatureAugmenter | None: The augmenter.

    Raises:
        KeyError: If ``type`` names no registered module; the message lists the
            registered FA types.
        TypeError: If ``type`` names a module that is not a feature augmenter.
    """
    if cfg is None or isinstance(cfg, BaseFeatureAugmenter):
        return cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError('build_augmenter expects a dict with a "type" key, e.g. '
                        f'dict(type="MaskFA"), got {cfg!r}; valid FA types are '
                        f'{registered_augmenters()}.')
    fa_type = cfg['type']
    if isinstance(fa_type, str) and MODELS.get(fa_type) is None:
        raise KeyError(f'Unknown feature augmenter type {fa_type!r}; valid FA types '
                       f'are {registered_augmenters()}.')
    try:
        # mmfa's scope whatever the default scope (e.g. an mmdet runner's)
        augmenter = MODELS.build(dict(cfg, _scope_=cfg.get('_scope_', 'mmfa')))
    except KeyError as e:
        # A registry miss inside the build (e.g. a misspelt bank type).
        raise KeyError(f'Building the feature augmenter {fa_type!r} failed: {e}. '
                       f'Valid FA types are {registered_augmenters()}.') from e
    if not isinstance(augmenter, BaseFeatureAugmenter):
        raise TypeError(f'{fa_type!r} is a {type(augmenter).__name__}, not a '
                        'feature augmenter; valid FA types are '
                        f'{registered_augmenters()}.')
    return augmenter
