# FA on SimSiam (docs/design.md §15): the networks of mmpretrain's SimSiam
# (mmpretrain::simsiam/simsiam_resnet50_8xb32-coslr-200e_in1k.py: ResNet-50 with
# SyncBN, projector 2048-2048-2048 whose last BN has no affine, predictor
# 2048-512-2048) with FASimSiam / FALatentPredictHead: FA copies of the
# stop-gradient target are extra targets (FA-BYOL's rule). FA off is mmpretrain's
# SimSiam loss. Stated here for the reason given in fa-mocov2_resnet50.py and
# checked against mmpretrain's by tests/test_configs/test_feature_space_configs.py.
_base_ = './fa-base_resnet50.py'
model = dict(
    type='FASimSiam',
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=2048,
        num_layers=3,
        with_last_bn_affine=False,
        with_avg_pool=True),
    head=dict(
        type='FALatentPredictHead',
        loss=dict(type='CosineSimilarityLoss'),
        predictor=dict(
            type='NonLinearNeck',
            in_channels=2048,
            hid_channels=512,
            out_channels=2048,
            with_avg_pool=False,
            with_last_bn=False,
            with_last_bias=True),
        augmenter=dict(type=None),  # no FA; children set the method
        num_aug=1,
        free_loss=False))
# The bank of the NN methods holds the 2048-d projections (0.5 GiB at 65536).
fa_bank = dict(type='FeatureBank', size=65536, dim=2048)
