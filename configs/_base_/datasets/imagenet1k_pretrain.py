# ImageNet-1k for pre-training with BYOL's augmentation parameters (docs/design.md §8):
# 224 px RandomResizedCrop (bicubic), flip 0.5, ColorJitter(0.4, 0.4, 0.2, 0.1) p=0.8,
# grayscale p=0.2; view 1: blur p=1.0, solarize p=0; view 2: blur p=0.1,
# solarize p=0.2. Only this pipeline is defined here, so a config built on it carries
# one DA pipeline; Table III's other settings derive from it
# (imagenet100_{symm-weak,symm-strong,asymm-strong}-aug.py) and
# imagenet1k_byol-aug.py names all four.
dataset_type = 'ImageNet'
data_root = 'data/imagenet/'
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)


def _view(blur_prob, solarize_prob):
    """One view's transforms; no blur / solarize transform when its p is 0."""
    view = [
        dict(
            type='RandomResizedCrop',
            scale=224,
            interpolation='bicubic',
            backend='pillow'),
        dict(type='RandomFlip', prob=0.5),
        dict(
            type='RandomApply',
            transforms=[
                dict(
                    type='ColorJitter',
                    brightness=0.4,
                    contrast=0.4,
                    saturation=0.2,
                    hue=0.1)
            ],
            prob=0.8),
        dict(
            type='RandomGrayscale',
            prob=0.2,
            keep_channels=True,
            channel_weights=(0.114, 0.587, 0.2989)),
    ]
    if blur_prob > 0:
        view.append(
            dict(
                type='GaussianBlur',
                magnitude_range=(0.1, 2.0),
                magnitude_std='inf',
                prob=blur_prob))
    if solarize_prob > 0:
        view.append(dict(type='Solarize', thr=128, prob=solarize_prob))
    return view


def _two_views(view1, view2):
    return [
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=[1, 1], transforms=[view1, view2]),
        dict(type='PackInputs'),
    ]


train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=_two_views(_view(1.0, 0.), _view(0.1, 0.2))))
