# CPU quickstart pre-training: the Parallel-predictor layout of the paper, shrunk to
# a ResNet-18 of width 16 on the generated shapes set (class = shape; colour, size,
# position, rotation and background vary), 32 px views with BYOL's asymmetric
# augmentation, one process. Generate the data with
#   python tools/dataset_converters/generate_shapes.py data/shapes
_base_ = [
    '../../_base_/models/parallel-predictor-fa_resnet50.py',
    '../../_base_/selfsup_runtime.py',
]

data_root = 'data/shapes/cls/'
feat_dim = 64


def _view(blur_prob, solarize_prob):
    view = [
        dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.4, 1.)),
        dict(type='RandomFlip', prob=0.5),
        dict(
            type='RandomApply',
            transforms=[
                # Stronger than BYOL's: object and background colours are random
                # per image, an instance shortcut that weak jitter leaves open.
                dict(
                    type='ColorJitter',
                    brightness=0.8,
                    contrast=0.8,
                    saturation=0.8,
                    hue=0.5)
            ],
            prob=0.8),
        dict(
            type='RandomGrayscale',
            prob=0.5,
            keep_channels=True,
            channel_weights=(0.114, 0.587, 0.2989)),
    ]
    if blur_prob > 0:
        view.append(
            dict(
                type='GaussianBlur',
                magnitude_range=(0.1, 1.0),
                magnitude_std='inf',
                prob=blur_prob))
    if solarize_prob > 0:
        view.append(dict(type='Solarize', thr=128, prob=solarize_prob))
    return view


train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                type='MultiView',
                num_views=[1, 1],
                transforms=[_view(1.0, 0.), _view(0.1, 0.2)]),
            dict(type='PackInputs'),
        ]))

model = dict(
    backbone=dict(depth=18, stem_channels=16, base_channels=16),
    neck=dict(in_channels=128, hid_channels=256, out_channels=feat_dim),
    predictor=dict(in_channels=feat_dim, hid_channels=256,
                   out_channels=feat_dim))

max_epochs = 25
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=1e-5),
    clip_grad=dict(max_norm=3.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    # ends at train_cfg.max_epochs (mmengine's default `end`)
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=1,
        convert_to_iter_based=True),
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
