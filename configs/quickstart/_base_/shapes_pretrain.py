# CPU quickstart pre-training: the Parallel-predictor layout of the paper, shrunk to
# a ResNet-18 of width 16 on the generated shapes set (class = shape; colour, size,
# position and rotation vary), 32 px views, one process. The loader worker decodes
# the 64 px images and makes each batch's views at once (batch_view_collate: the
# BatchViewAugmentor's transforms, overlapping the model step on a CPU); the model
# gets them channels-last (docs/design.md §16; 1.19x mmpretrain's per-image
# pipeline on 2 cores, docs/benchmarks.md). On a GPU, make the views on the device
# instead: model.data_preprocessor.views=<the views>, no collate_fn.
# Generate the data with
#   python tools/dataset_converters/generate_shapes.py data/shapes
_base_ = [
    '../../_base_/models/parallel-predictor-fa_resnet50.py',
    '../../_base_/selfsup_runtime.py',
]

data_root = 'data/shapes/cls/'
feat_dim = 64


def _view(blur_prob, solarize_prob):
    """BYOL's view (blur / solarize probabilities per view, brightness and
    contrast 0.4) with saturation 0.4 and a full-circle, luma-keeping hue jitter:
    object and background colours are random per image, an instance shortcut
    that BYOL's weak hue jitter leaves open, and the usual HSV hue jitter at this
    strength changes luma, so random grayscale then hides the shape in many views
    (docs/design.md §14: stronger brightness / contrast / saturation, 0.8, made
    the result depend on the seed)."""
    view = [
        dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.6, 1.)),
        dict(type='RandomFlip', prob=0.5),
        dict(
            type='RandomApply',
            transforms=[
                dict(
                    type='ColorJitter',
                    brightness=0.4,
                    contrast=0.4,
                    saturation=0.4,
                    hue=0.5,
                    hue_space='yiq')
            ],
            prob=0.8),
        dict(
            type='RandomGrayscale',
            prob=0.2,
            keep_channels=True,
            channel_weights=(0.114, 0.587, 0.2989)),
    ]
    if blur_prob > 0:
        # BYOL's sigma range scaled from 224 px to 32 px views
        view.append(
            dict(
                type='GaussianBlur',
                magnitude_range=(0.1, 0.5),
                magnitude_std='inf',
                prob=blur_prob))
    if solarize_prob > 0:
        view.append(dict(type='Solarize', thr=128, prob=solarize_prob))
    return view


_views = [_view(1.0, 0.), _view(0.1, 0.2)]
train_dataloader = dict(
    batch_size=64,
    # one worker makes the views (~30 ms a batch on one core) while the
    # training process, with one math thread, runs the step
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='mmfa.batch_view_collate', views=_views),
    drop_last=True,
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')]))

model = dict(
    # the views come made: channel order, normalisation, channels-last
    data_preprocessor=dict(
        type='BatchViewAugmentor', views=None, channels_last=True),
    backbone=dict(depth=18, stem_channels=16, base_channels=16),
    neck=dict(in_channels=128, hid_channels=256, out_channels=feat_dim),
    predictor=dict(in_channels=feat_dim, hid_channels=256,
                   out_channels=feat_dim))

# kNN top-1 of the backbone on the validation split every 5 epochs (and at
# initialisation): the curve of results.md. Same protocol as
# tools/analysis_tools/knn_eval.py with the linear-probe config (k=20, T=0.07,
# whole 32 px images).
_knn_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]


def _knn_loader(split):
    return dict(
        batch_size=256,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='CustomDataset',
            data_root=data_root,
            ann_file=f'meta/{split}.txt',
            data_prefix=split,
            pipeline=_knn_pipeline))


custom_hooks = [
    dict(type='FeatureBankHook', require_bank=False),
    dict(type='PreemptionCheckpointHook'),
    dict(
        type='KNNMonitorHook',
        train_dataloader=_knn_loader('train'),
        val_dataloader=_knn_loader('val'),
        interval=5,
        at_start=True,
        k=20,
        temperature=0.07),
]

max_epochs = 45
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.6, momentum=0.9, weight_decay=1e-5),
    clip_grad=dict(max_norm=3.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    # ends at train_cfg.max_epochs (mmengine's default `end`)
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=2,
        convert_to_iter_based=True),
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
