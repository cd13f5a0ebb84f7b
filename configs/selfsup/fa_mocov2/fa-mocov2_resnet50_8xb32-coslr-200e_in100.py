_base_ = [
    '../../_base_/models/fa-mocov2_resnet50.py',
    '../../_base_/datasets/imagenet100_mocov2-aug.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_coslr_200e.py',
    '../../_base_/selfsup_runtime.py',
]
# mmpretrain's MoCo v2 schedule (SGD lr 0.03, wd 1e-4, cosine, 200 epochs).
train_cfg = dict(type='ResumableEpochBasedTrainLoop')
auto_scale_lr = dict(base_batch_size=256)
