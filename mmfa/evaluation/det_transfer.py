# Copyright (c) mmfa contributors. All rights reserved.
"""mmfa's components of the detection transfer (Faster R-CNN R50-C4, VOC07+12),
registered in mmdet's registries.

Detection configs run with ``default_scope='mmdet'`` and load this module with
``custom_imports=dict(imports=['mmfa.evaluation.det_transfer'],
allow_failed_imports=False)``. mmfa's registries are children of mmpretrain's,
which mmdet's registries cannot see (a scope prefix only reaches direct children of
mmengine's root), hence these registrations:

* ``ResLayerExtraNorm`` (MODELS): the res5 shared head with an extra BN after it
  (the MoCo protocol's ``Res5ROIHeadsExtraNorm``), mmpretrain's, reused as is;
* ``PretrainedStrict`` (WEIGHT_INITIALIZERS): :class:`PretrainedStrictInit`;
* ``VOCDetectionAP`` (METRICS): :class:`VOCDetectionAP`;
* ``DetPreciseBNHook`` (HOOKS): :class:`mmfa.engine.hooks.DetPreciseBNHook`.

Not imported by ``mmfa.evaluation``: classification and pre-training do not depend
on mmdet's registries.
"""
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmpretrain.models.utils.res_layer_extra_norm import ResLayerExtraNorm

from mmfa.engine.hooks import DetPreciseBNHook
from .initializers import PretrainedStrictInit
from .metrics import VOCDetectionAP

if ResLayerExtraNorm is None:  # mmpretrain defines it only when mmdet imports
    raise ImportError('mmpretrain could not define ResLayerExtraNorm: check '
                      'that mmdet imports (python -c "import mmdet.models").')

MMDET_WEIGHT_INITIALIZERS.register_module(
    name='PretrainedStrict', module=PretrainedStrictInit, force=True)
MMDET_METRICS.register_module(module=VOCDetectionAP, force=True)
MMDET_HOOKS.register_module(module=DetPreciseBNHook, force=True)

__all__ = [
    'ResLayerExtraNorm', 'PretrainedStrictInit', 'VOCDetectionAP',
    'DetPreciseBNHook'
]
