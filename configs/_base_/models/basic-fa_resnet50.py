# Basic layout (docs/design.md §6): SimCLR's projector, Linear-ReLU-Linear without BN
# (2048-2048-256; mmpretrain's MoCoV2Neck is exactly that), no predictor.
_base_ = './parallel-predictor-fa_resnet50.py'
model = dict(
    type='BasicFA',
    neck=dict(
        _delete_=True,
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=256,
        with_avg_pool=True),
    predictor=None)
