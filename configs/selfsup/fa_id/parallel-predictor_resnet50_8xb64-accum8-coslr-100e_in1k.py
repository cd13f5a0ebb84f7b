_base_ = [
    '../../_base_/models/parallel-predictor-fa_resnet50.py',
    '../../_base_/datasets/imagenet1k_pretrain.py',
    '../../_base_/schedules/lars_coslr-100e_fa-id.py',
    '../../_base_/selfsup_runtime.py',
]
