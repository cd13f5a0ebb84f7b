# Quickstart linear probe: the paper's protocol (frozen backbone, SGD, momentum 0.9,
# wd 0) shrunk to the generated shapes set and 10 epochs with a cosine schedule.
# The backbone comes from a quickstart pre-training checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = '../benchmarks/mmpretrain/_base_/resnet50_linear-8xb32-steplr-60e_in1k.py'

data_root = 'data/shapes/cls/'
num_classes = 9
model = dict(
    backbone=dict(depth=18, stem_channels=16, base_channels=16),
    head=dict(num_classes=num_classes, in_channels=128, topk=(1, )))
data_preprocessor = dict(num_classes=num_classes)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    # near-whole images, as the probe is tested (smaller crops cost ~10 points)
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.9, 1.)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

max_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=0.5))
# ends at train_cfg.max_epochs (mmengine's default `end`)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
