# Parallel-predictor-FA (the paper's layout, docs/design.md §6): ResNet-50, the
# strong projector and the predictor, both mmpretrain NonLinearNecks. The FA method
# is the head's `augmenter` (type=None: the no-FA baseline of the layout).
_base_ = './fa-base_resnet50.py'
model = dict(
    type='ParallelPredictorFA',
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=256,
        num_layers=3,
        with_last_bn=True,
        with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    # Predictor: Linear(256, 4096)-BN-ReLU, Linear(4096, 256) with bias.
    predictor=dict(
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_last_bn=False,
        with_last_bias=True,
        with_avg_pool=False,
        norm_cfg=dict(type='SyncBN')),
    head=dict(
        type='FAContrastiveHead',
        augmenter=dict(type=None),  # no FA; children set the method
        num_aug=1,
        free_loss=False,
        stop_grad=True,
        symmetric=True,
        temperature=0.2))
