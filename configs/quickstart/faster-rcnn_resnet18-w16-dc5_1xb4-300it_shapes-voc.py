# Quickstart detection transfer: Faster R-CNN from a quickstart backbone on the
# VOC-style shapes set, evaluated with the same VOC AP / AP50 / AP75 as Table VI.
# mmdet's C4 shared head (ResLayer) is hard-wired to width 64, so the width-16
# ResNet-18 keeps its res5 in the backbone, dilated with stride 1 (DC5-style):
# RoIs are pooled from stride-16 features of all pre-trained stages.
# The backbone comes from a quickstart pre-training checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = '../benchmarks/mmdet/voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py'

classes = ('arrow', 'circle', 'crescent', 'cross', 'heart', 'ring', 'square',
           'star', 'triangle')
data_root = 'data/shapes/voc/'
norm_cfg = dict(type='BN', requires_grad=True)
channels = 128  # width-16 ResNet-18 res5

model = dict(
    backbone=dict(
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        out_indices=(3, ),
        norm_cfg=norm_cfg,
        norm_eval=True),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        anchor_generator=dict(scales=[1, 2, 4, 8])),
    roi_head=dict(
        shared_head=None,
        bbox_roi_extractor=dict(
            roi_layer=dict(output_size=7), out_channels=channels),
        bbox_head=dict(in_channels=channels, num_classes=len(classes))),
    # Fewer proposals and RoIs than for 800 px VOC images: a 256 px image holds
    # 2-4 objects, and RoIAlign on CPU dominates the step time.
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=100)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(256, 256), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]


def _voc(split, pipeline, test_mode):
    return dict(
        type='VOCDataset',
        data_root=data_root,
        ann_file=f'VOC2007/ImageSets/Main/{split}.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        metainfo=dict(classes=classes),
        # the generated objects are 12-56 px: keep small boxes
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        test_mode=test_mode,
        pipeline=pipeline)


train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(_delete_=True, **_voc('trainval', train_pipeline, False)))
val_dataloader = dict(
    batch_size=8,
    dataset=dict(_delete_=True, **_voc('test', test_pipeline, True)))
test_dataloader = val_dataloader

max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[225],
        gamma=0.1)
]
custom_hooks = []
# a fixed seed: the quickstart's numbers are reproducible run to run
randomness = dict(seed=0)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
