# Basic layout (docs/design.md §6): SimCLR's projector, a 2-layer MLP without BN
# (2048-2048-256), no predictor.
_base_ = './parallel-predictor-fa_resnet50.py'
model = dict(
    type='BasicFA',
    neck=dict(
        _delete_=True,
        type='MLPNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=256,
        num_layers=2,
        with_avg_pool=True),
    predictor=None)
