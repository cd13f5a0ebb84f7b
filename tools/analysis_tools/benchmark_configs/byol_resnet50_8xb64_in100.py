# Reference for tools/analysis_tools/benchmark_train.py: mmpretrain's BYOL at the
# settings of mmfa's no-FA FA-BYOL config: the same ResNet-50, projector
# (2048-4096-256) and predictor (256-4096-256), target momentum 0.01 (tau 0.99),
# batch 64 per device, the same LARS optimizer wrapper, data pipeline and runtime.
# Only the model class differs (mmpretrain's BYOL + LatentPredictHead).
# (Zhang et al., arXiv:2410.12396; BYOL: Grill et al., NeurIPS 2020.)
_base_ = ('../../../configs/selfsup/fa_byol/'
          'fa-byol_resnet50_8xb64-coslr-100e_in100.py')
model = dict(
    _delete_=True,
    type='BYOL',
    base_momentum=0.01,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=4096,
        out_channels=256,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    head=dict(
        type='LatentPredictHead',
        predictor=dict(
            type='NonLinearNeck',
            in_channels=256,
            hid_channels=4096,
            out_channels=256,
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=False,
            norm_cfg=dict(type='SyncBN')),
        loss=dict(type='CosineSimilarityLoss')))
