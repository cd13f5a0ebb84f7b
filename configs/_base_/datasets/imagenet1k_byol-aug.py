# ImageNet-1k pre-training data (imagenet1k_pretrain.py) with the four DA settings of
# Table III named, for the tools and tests that compare them
# (tools/analysis_tools/benchmark_pipeline.py) and for the batched bases
# (imagenet1k_byol-aug_batched.py). A pre-training config selects one setting by its
# dataset base instead (imagenet1k_pretrain.py, imagenet100_byol-aug.py,
# imagenet100_{symm-weak,symm-strong,asymm-strong}-aug.py), so it carries only its
# own pipeline.
_base_ = './imagenet1k_pretrain.py'

# Decision (docs/design.md §8; the paper gives no probabilities for "strong"): the
# strong view turns on both of BYOL's extra transforms at their BYOL maxima, blur
# p=1.0 and solarize p=0.2 (BYOL's view 1 plus view 2's solarisation); the weak
# view has neither (BYOL's view 1 without its blur). Names with two leading
# underscores stay out of the config.
byol_pipeline = _base_.train_dataloader.dataset.pipeline
__load, __views, __pack = byol_pipeline
__weak = __views.transforms[0][:-1]
__strong = __views.transforms[0] + __views.transforms[1][-1:]
symm_weak_pipeline = [__load, dict(__views, transforms=[__weak] * 2), __pack]
symm_strong_pipeline = [__load, dict(__views, transforms=[__strong] * 2), __pack]
asymm_strong_pipeline = [
    __load, dict(__views, transforms=[__strong, __weak]), __pack
]
train_pipeline = byol_pipeline
