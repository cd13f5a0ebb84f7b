# FA on MoCo v2 (docs/design.md §15): the networks of mmpretrain's MoCo v2
# (mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py: ResNet-50 with BN
# for ShuffleBN, MoCoV2Neck 2048-2048-128, queue 65536, key-encoder momentum 0.001,
# tau 0.2) with FAMoCo / FAMoCoHead: FA copies of the key are extra positives
# against the queue. FA off is mmpretrain's MoCo v2 loss. mmpretrain keeps this
# model only inside its full recipe config, whose runtime keys would clash with
# mmfa's runtime base, so the model is stated here;
# tests/test_configs/test_feature_space_configs.py checks it against mmpretrain's.
_base_ = './fa-base_resnet50.py'
model = dict(
    type='FAMoCo',
    queue_len=65536,
    feat_dim=128,
    momentum=0.001,
    backbone=dict(norm_cfg=dict(type='BN'), zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        with_avg_pool=True),
    head=dict(
        type='FAMoCoHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2,
        augmenter=dict(type=None),  # no FA; children set the method
        num_aug=1,
        free_loss=False))
# The bank of the NN methods holds the 128-d keys.
fa_bank = dict(type='FeatureBank', size=65536, dim=128)
