# NNCLR's model in the recipe of the paper's Table I (ImageNet-100, 200 epochs).
_base_ = [
    '../../_base_/models/nnclr_resnet50.py',
    '../../_base_/datasets/imagenet100_byol-aug.py',
    '../../_base_/schedules/lars_coslr-200e_fa-id.py',
    '../../_base_/selfsup_runtime.py',
]
