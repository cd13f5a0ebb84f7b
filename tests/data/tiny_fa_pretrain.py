# A tiny mmfa pre-training config for the launcher and preemption tests: a
# Parallel-predictor-FA with NN feature augmentation (feature bank logged by
# FeatureBankHook), a narrow ResNet-18 on a folder of generated 32 px images
# (data_root is set by the test), checkpoint-on-preemption and the mid-epoch
# resumable epoch loop, as in the paper's pre-training configs.
_base_ = [
    '../../configs/_base_/models/parallel-predictor-fa_resnet50.py',
    '../../configs/_base_/default_runtime.py',
]

data_root = None
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=2,
        transforms=[[
            dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.)),
            dict(type='RandomFlip', prob=0.5),
        ]]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        with_label=False,
        pipeline=train_pipeline))
# The paper's Parallel-predictor model, shrunk: a ResNet-18 a 16th of the usual size
# (base_channels=16), a 32-d projection and a 64-entry bank, for speed.
model = dict(
    backbone=dict(depth=18, base_channels=16),
    neck=dict(in_channels=128, hid_channels=64, out_channels=32, num_layers=2),
    predictor=dict(in_channels=32, hid_channels=64, out_channels=32),
    head=dict(
        augmenter=dict(
            type='NearestNeighborFA',
            bank=dict(type='FeatureBank', size=64, dim=32))))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=100, by_epoch=False, begin=0, end=100)
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=2)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=True))
custom_hooks = [
    dict(type='FeatureBankHook'),
    dict(type='PreemptionCheckpointHook'),
]
