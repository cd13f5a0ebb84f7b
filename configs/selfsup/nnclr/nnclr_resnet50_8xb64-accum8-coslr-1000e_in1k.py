_base_ = [
    '../../_base_/models/nnclr_resnet50.py',
    '../../_base_/datasets/imagenet1k_byol-aug.py',
    '../../_base_/schedules/lars_coslr-200e_fa-id.py',
    '../../_base_/selfsup_runtime.py',
]
# NNCLR's optimiser (VISSL's reproduction): LARS, lr 0.3 per 256 = 4.8 at the
# 4096 batch (512 x 8 accumulated), wd 1e-6, trust 0.001, no clipping, 1000 epochs.
optim_wrapper = dict(
    optimizer=dict(lr=4.8, weight_decay=1e-6, eta=0.001), clip_grad=None)
train_cfg = dict(max_epochs=1000)
