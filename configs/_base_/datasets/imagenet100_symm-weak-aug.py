# ImageNet-100 pre-training data with Table III's SymmWeakAug (both views weak),
# docs/design.md §8: the views derive from BYOL's as in imagenet1k_byol-aug.py.
# Names with two leading underscores stay out of the config.
_base_ = './imagenet100_byol-aug.py'
__load, __views, __pack = _base_.train_dataloader.dataset.pipeline
__weak = __views.transforms[0][:-1]  # BYOL view 1 without its blur
train_dataloader = dict(dataset=dict(
    pipeline=[__load, dict(__views, transforms=[__weak] * 2), __pack]))
