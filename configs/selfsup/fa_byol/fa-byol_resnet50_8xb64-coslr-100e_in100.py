_base_ = [
    '../../_base_/models/fa-byol_resnet50.py',
    '../../_base_/datasets/imagenet100_byol-aug.py',
    '../../_base_/schedules/lars_coslr-100e_fa-byol.py',
    '../../_base_/selfsup_runtime.py',
]
