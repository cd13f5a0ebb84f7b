# Copyright (c) mmfa contributors. All rights reserved.
from typing import Optional, Sequence

from mmengine.model.weight_init import PretrainedInit, update_init_info

from mmfa.registry import WEIGHT_INITIALIZERS
from ..functional.pretrained import load_pretrained_strict


@WEIGHT_INITIALIZERS.register_module(name='PretrainedStrict')
class PretrainedStrictInit(PretrainedInit):
    """mmengine's ``Pretrained`` initialiser that fails on a wrong checkpoint.

    For the downstream protocols of Zhang et al., "Feature Augmentation for
    Self-supervised Contrastive Learning: A Closer Look", arXiv:2410.12396 (linear
    probe, detection transfer). What the library lacks: ``PretrainedInit`` only
    *warns* about missing keys and asserts on a missing prefix, so a probe can train
    on a random backbone. Here a checkpoint without any matching key, with missing
    keys or with wrong shapes raises a ``RuntimeError`` naming the keys it holds
    (:func:`mmfa.evaluation.functional.load_pretrained_strict`); the file is read by
    mmengine's ``CheckpointLoader`` with mmfa's safe loading
    (``mmfa/utils/checkpoint_io.py``).

    Usage: ``init_cfg=dict(type='PretrainedStrict', checkpoint=PATH,
    prefix='backbone.')`` with ``default_scope='mmfa'``; detection configs
    (``default_scope='mmdet'``) find it after ``custom_imports`` of
    ``mmfa.evaluation.det_transfer``, which registers it in mmdet's registry.

    Note: mmengine applies ``type='Pretrained'`` after all other initialisers and
    mmpretrain's ``ResNet`` skips its ``zero_init_residual`` re-initialisation only
    for that type name. This initialiser therefore sets the module's
    ``zero_init_residual`` to False, so the loaded last-BN weights of each residual
    block are not zeroed afterwards.

    Args:
        checkpoint (str): Checkpoint path; a pre-training checkpoint or an
            extracted backbone state dict.
        prefix (str, optional): Prefix of the module's keys in a pre-training
            checkpoint. Defaults to 'backbone.'.
        allow_missing (Sequence[str]): Key prefixes of the module that may stay
            un-initialised (e.g. ``['norm.']`` for an extra BN). Defaults to ().
        map_location (str): Defaults to 'cpu'.
    """

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 prefix: Optional[str] = 'backbone.',
                 allow_missing: Sequence[str] = (),
                 map_location: str = 'cpu') -> None:
        super().__init__(checkpoint, prefix=prefix, map_location=map_location)
        self.allow_missing = tuple(allow_missing)

    def __call__(self, module) -> None:
        load_pretrained_strict(
            module,
            self.checkpoint,
            prefix=self.prefix,
            allow_missing=self.allow_missing,
            map_location=self.map_location)
        if getattr(module, 'zero_init_residual', False):
            module.zero_init_residual = False
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f"{super()._get_init_info()} (prefix '{self.prefix}')"
