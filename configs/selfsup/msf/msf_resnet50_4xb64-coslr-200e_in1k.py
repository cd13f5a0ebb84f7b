_base_ = [
    '../../_base_/models/msf_resnet50.py',
    '../../_base_/datasets/imagenet1k_msf-weak-strong.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_coslr_200e.py',
    '../../_base_/selfsup_runtime.py',
]
# MSF's optimiser (official code): SGD lr 0.05, momentum 0.9, wd 1e-4, cosine.
optim_wrapper = dict(optimizer=dict(lr=0.05))
train_cfg = dict(type='ResumableEpochBasedTrainLoop')
auto_scale_lr = dict(base_batch_size=256)
