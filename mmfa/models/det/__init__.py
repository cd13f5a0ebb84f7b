# Copyright (c) mmfa contributors. All rights reserved.
"""mmdet-side modules of mmfa's detection transfer (Faster R-CNN R50-C4, VOC07+12).

Detection configs run with ``default_scope='mmdet'`` and load this package with
``custom_imports=dict(imports=['mmfa.models.det'], allow_failed_imports=False)``.
Importing it makes these names resolvable in mmdet's registries:

* ``ResLayerExtraNorm`` (MODELS): the res5 shared head with an extra BN after it
  (the MoCo protocol's ``Res5ROIHeadsExtraNorm``). mmpretrain ships it, registered
  in mmdet's MODELS; it is reused, not re-implemented.
* ``PretrainedStrict`` (WEIGHT_INITIALIZERS): strict loading of the pre-trained
  backbone and res5 weights, :class:`mmfa.evaluation.PretrainedStrictInit`.
* ``VOCDetectionAP`` (METRICS): AP / AP50 / AP75 as detectron2 reports them,
  :class:`mmfa.evaluation.VOCDetectionAP`.
* ``DetPreciseBNHook`` (HOOKS): detectron2's precise BN before evaluation.

mmfa's own registries are children of mmpretrain's, which mmdet's registries cannot
see (a scope prefix only reaches direct children of mmengine's root), hence the
registrations here. Not imported by ``mmfa.models``: classification and
pre-training do not depend on these names.
"""
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmpretrain.models.utils.res_layer_extra_norm import ResLayerExtraNorm

from mmfa.evaluation.initializers import PretrainedStrictInit
from mmfa.evaluation.metrics import VOCDetectionAP
from .precise_bn_hook import DetPreciseBNHook, update_bn_stats_train_mode

if ResLayerExtraNorm is None:  # mmpretrain defines it only when mmdet imports
    raise ImportError('mmpretrain could not define ResLayerExtraNorm: check '
                      'that mmdet imports (python -c "import mmdet.models").')

MMDET_WEIGHT_INITIALIZERS.register_module(
    name='PretrainedStrict', module=PretrainedStrictInit, force=True)
MMDET_METRICS.register_module(module=VOCDetectionAP, force=True)
MMDET_HOOKS.register_module(module=DetPreciseBNHook, force=True)

__all__ = [
    'ResLayerExtraNorm', 'PretrainedStrictInit', 'VOCDetectionAP',
    'DetPreciseBNHook', 'update_bn_stats_train_mode'
]
