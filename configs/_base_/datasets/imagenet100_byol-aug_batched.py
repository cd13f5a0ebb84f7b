# ImageNet-100 (imagenet100_byol-aug.py) with the batched augmentation path of
# imagenet1k_byol-aug_batched.py; see that file for how a config switches to it.
# (mmengine cannot inherit both files, whose keys overlap: the split is repeated.)
_base_ = './imagenet100_byol-aug.py'


def _split(pipeline, in_workers):
    """Each view's worker (crop, flip) or batched (the rest) transforms."""
    return [[
        t for t in view
        if (t['type'] in ('RandomResizedCrop', 'RandomFlip')) == in_workers
    ] for view in pipeline[1]['transforms']]


batched_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=_split(_base_.byol_pipeline, True)),
    dict(type='PackInputs'),
]
byol_views = _split(_base_.byol_pipeline, False)
symm_weak_views = _split(_base_.symm_weak_pipeline, False)
symm_strong_views = _split(_base_.symm_strong_pipeline, False)
asymm_strong_views = _split(_base_.asymm_strong_pipeline, False)
byol_pipeline = symm_weak_pipeline = symm_strong_pipeline = batched_pipeline
asymm_strong_pipeline = train_pipeline = batched_pipeline

data_preprocessor = dict(type='BatchViewAugmentor', views=byol_views)
train_dataloader = dict(dataset=dict(pipeline=batched_pipeline))
