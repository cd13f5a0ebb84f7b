# MSF's weak/strong views (official code, train_msf.py --weak_strong): view 1 (the
# query) is MoCo v2's view (mmpretrain's: crop area 0.2-1, ColorJitter(0.4, 0.4,
# 0.4, 0.1) p=0.8, grayscale 0.2, blur p=0.5, flip), view 2 (the target) is weak:
# crop area 0.2-1 and flip only. Batch 256 = 4 GPUs x 64 as in the official runs.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs32_mocov2.py'
weak_view = [
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.),
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=[_base_.view_pipeline, weak_view]),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
