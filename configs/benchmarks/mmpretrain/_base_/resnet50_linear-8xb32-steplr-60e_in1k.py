# Linear evaluation of a frozen ResNet-50 on ImageNet-1k: the protocol of Zhang et al.
# "Feature Augmentation for Self-supervised Contrastive Learning: A Closer Look",
# arXiv:2410.12396, Tables I-V: SGD, 60 epochs, batch 256 (8 GPUs x 32),
# momentum 0.9, weight decay 0, lr x0.1 at epochs 40, 50 and 55. The lr depends on the
# pre-training family; the leaf configs set it (1.0 instance discrimination, 0.2 BYOL).
# The pre-training checkpoint is given at launch:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
# (tools/benchmarks/mmpretrain/dist_linear_eval.sh does this).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    # mmfa's runtime: default_scope 'mmfa', nccl/gloo chosen by tools/train.py, a
    # DDP wrapper that also runs on CPU
    '../../../_base_/default_runtime.py',
]

# PretrainedStrict lives in mmfa.evaluation.
custom_imports = dict(imports=['mmfa.evaluation'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        # the pre-trained last BN of each block must not be zeroed
        zero_init_residual=False,
        # strict: a checkpoint without backbone weights is an error, not a warning
        init_cfg=dict(
            type='PretrainedStrict', checkpoint=None, prefix='backbone.')))

# 8 GPUs x 32 = 256 images per iteration
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1.0, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=True,
        milestones=[40, 50, 55],
        gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=60, val_interval=10)
val_cfg = dict()
test_cfg = dict()
# --auto-scale-lr rescales the lr for another total batch size
auto_scale_lr = dict(base_batch_size=256)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
