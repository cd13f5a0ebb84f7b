_base_ = [
    '../../_base_/models/parallel-predictor-fa_resnet50.py',
    '../../_base_/datasets/imagenet100_symm-strong-aug.py',
    '../../_base_/schedules/lars_coslr-200e_fa-id.py',
    '../../_base_/selfsup_runtime.py',
]
