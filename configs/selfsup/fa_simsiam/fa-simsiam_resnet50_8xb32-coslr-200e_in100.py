_base_ = [
    '../../_base_/models/fa-simsiam_resnet50.py',
    '../../_base_/datasets/imagenet100_mocov2-aug.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_coslr_200e.py',
    '../../_base_/selfsup_runtime.py',
]
# mmpretrain's SimSiam schedule: SGD lr 0.05 (wd 1e-4, cosine, 200 epochs), the
# predictor at a fixed learning rate (SimSiamHook).
optim_wrapper = dict(
    optimizer=dict(lr=0.05),
    paramwise_cfg=dict(custom_keys={'predictor': dict(fix_lr=True)}))
custom_hooks = _base_.custom_hooks + [
    dict(type='SimSiamHook', priority='HIGH', fix_pred_lr=True, lr=0.05)
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop')
auto_scale_lr = dict(base_batch_size=256)
