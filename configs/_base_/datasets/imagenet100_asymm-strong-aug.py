# ImageNet-100 pre-training data with Table III's AsymmStrongAug (view 1 strong,
# view 2 weak), docs/design.md §8: the views derive from BYOL's as in
# imagenet1k_byol-aug.py.
# Names with two leading underscores stay out of the config.
_base_ = './imagenet100_byol-aug.py'
__load, __views, __pack = _base_.train_dataloader.dataset.pipeline
__weak = __views.transforms[0][:-1]  # BYOL view 1 without its blur
# BYOL view 1 plus view 2's solarisation
__strong = __views.transforms[0] + __views.transforms[1][-1:]
train_dataloader = dict(dataset=dict(
    pipeline=[__load, dict(__views, transforms=[__strong, __weak]), __pack]))
