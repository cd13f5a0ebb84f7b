# Faster R-CNN R50-C4 transfer to PASCAL VOC: the MoCo detectron2 protocol
# (pascal_voc_R_50_C4_24k_moco.yaml on Base-RCNN-C4-BN.yaml) used by Zhang et al.,
# "Feature Augmentation for Self-supervised Contrastive Learning: A Closer Look",
# arXiv:2410.12396, Table VI. Train VOC07+12 trainval, test VOC07 test; 24k iterations
# of batch 16 (8 GPUs x 2), SGD lr 0.02 (momentum 0.9, wd 1e-4, none on norm layers),
# x0.1 at 18k and 22k, 100 linear warm-up iterations; short side 480-800 (step 32,
# max 1333) in training, 800 in testing; SyncBN (trained, statistics updated) in the
# whole backbone and the res5 head, an extra BN after res5, nothing frozen; precise BN
# before the evaluation. Reports AP (mean over IoU 0.50:0.05:0.95), AP50, AP75 with the
# VOC2007 11-point AP, as detectron2's PascalVOCDetectionEvaluator does.
#
# The pre-trained backbone (res2-res4 in the backbone, res5 in the RoI head) comes from
# a pre-training checkpoint (keys 'backbone.*') or an extracted backbone:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH \
#                 model.roi_head.shared_head.init_cfg.checkpoint=PATH
# (tools/benchmarks/mmdet/dist_voc0712.sh sets both).
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50-caffe-c4.py',
    'mmdet::_base_/datasets/voc0712.py',
    'mmdet::_base_/default_runtime.py',
]

default_scope = 'mmdet'
# ResLayerExtraNorm, PretrainedStrict, VOCDetectionAP and DetPreciseBNHook in
# mmdet's registries.
custom_imports = dict(
    imports=['mmfa.evaluation.det_transfer'], allow_failed_imports=False)
# nccl with a GPU, gloo without (tools/train.py); the wrapper is mmengine's DDP on
# GPU and reverts SyncBN to BN for CPU runs
env_cfg = dict(dist_cfg=dict(backend='auto'))
model_wrapper_cfg = dict(
    type='mmfa.engine.wrappers.MMFADistributedDataParallel')

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    # torchvision (pytorch-style) ResNet statistics, RGB input
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        style='pytorch',
        frozen_stages=-1,  # detectron2 FREEZE_AT 0
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(
            _delete_=True,
            type='PretrainedStrict',
            checkpoint=None,
            prefix='backbone.')),
    roi_head=dict(
        shared_head=dict(
            type='ResLayerExtraNorm',
            style='pytorch',
            norm_cfg=norm_cfg,
            norm_eval=False,
            # res5 = the pre-trained backbone's layer4; the extra BN is new
            init_cfg=dict(
                _delete_=True,
                type='PretrainedStrict',
                checkpoint=None,
                prefix='backbone.',
                allow_missing=['norm.'])),
        bbox_head=dict(num_classes=20)))

data_root = 'data/VOCdevkit/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, s) for s in range(480, 801, 32)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    # after Resize, so that the ground-truth boxes keep the original scale
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]


def voc_trainval(year):
    return dict(
        type='VOCDataset',
        data_root=data_root,
        ann_file=f'VOC{year}/ImageSets/Main/trainval.txt',
        data_prefix=dict(sub_data_root=f'VOC{year}/'),
        # detectron2 keeps small boxes (no bbox_min_size); images without
        # objects are dropped
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline)


train_dataloader = dict(
    batch_size=2,  # x 8 GPUs = 16
    num_workers=4,
    persistent_workers=True,
    # detection batches hold images of different sizes: mmdet's collate, also
    # under tools/train.py (whose default is default_collate)
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        # VOC2007 and VOC2012 differ in metainfo['dataset_type']
        ignore_keys=['dataset_type'],
        datasets=[voc_trainval(2007), voc_trainval(2012)]))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    _delete_=True, type='VOCDetectionAP', eval_mode='11points')
test_evaluator = val_evaluator

max_iters = 24000
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    # detectron2 SOLVER.WEIGHT_DECAY_NORM = 0
    paramwise_cfg=dict(norm_decay_mult=0.))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)

# detectron2 TEST.PRECISE_BN: 200 iterations before the (final) evaluation
custom_hooks = [dict(type='DetPreciseBNHook', num_iters=200)]
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=4000,
        max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
