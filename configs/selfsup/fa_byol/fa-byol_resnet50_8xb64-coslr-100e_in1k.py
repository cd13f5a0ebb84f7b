_base_ = [
    '../../_base_/models/fa-byol_resnet50.py',
    '../../_base_/datasets/imagenet1k_pretrain.py',
    '../../_base_/schedules/lars_coslr-100e_fa-byol.py',
    '../../_base_/selfsup_runtime.py',
]
