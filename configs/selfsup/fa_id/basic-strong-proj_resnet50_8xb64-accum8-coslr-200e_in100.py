# Basic layout with the strong projector (Table I, '+strong proj').
_base_ = [
    '../../_base_/models/basic-strong-proj-fa_resnet50.py',
    '../../_base_/datasets/imagenet100_byol-aug.py',
    '../../_base_/schedules/lars_coslr-200e_fa-id.py',
    '../../_base_/selfsup_runtime.py',
]
