_base_ = [
    '../../_base_/models/pre-predictor-fa_resnet50.py',
    '../../_base_/datasets/imagenet100_byol-aug.py',
    '../../_base_/schedules/lars_coslr-200e_fa-id.py',
    '../../_base_/selfsup_runtime.py',
]
