# ImageNet-1k pre-training with the augmentation of imagenet1k_byol-aug.py, batched
# on the training device: the loader workers decode, crop (RandomResizedCrop, 224 px,
# bicubic, Pillow) and flip each view, the model's BatchViewAugmentor applies each
# view's colour jitter, grayscale, blur and solarisation to the whole batch with
# per-sample parameters (same types, arguments and distributions). The view lists
# are split off the per-image pipelines, so the DA settings of Table III stay
# defined in one place.
#
# A config switches to this path by replacing its dataset `_base_` entry with this
# file (or imagenet100_byol-aug_batched.py) and adding one line:
#     model = dict(data_preprocessor=_base_.data_preprocessor)
# (mmengine forbids one key, `model`, in two sibling bases, and the Runner merges the
# top-level `data_preprocessor` only into a model that has none, so a dataset base
# cannot set the model's preprocessor by itself). Another DA setting:
#     model = dict(data_preprocessor=dict(_base_.data_preprocessor,
#                                         views=_base_.symm_weak_views))
# The per-image pipeline names (byol_pipeline, symm_weak_pipeline, ...) all give the
# worker part here, so a leaf that selects a DA setting by pipeline never augments
# twice; it must select the views as above.
_base_ = './imagenet1k_byol-aug.py'


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

# merged into the base's SelfSupDataPreprocessor: same mean, std, to_rgb
data_preprocessor = dict(type='BatchViewAugmentor', views=byol_views)
train_dataloader = dict(dataset=dict(pipeline=batched_pipeline))
