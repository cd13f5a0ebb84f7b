# FA-BYOL (instance similarity, docs/design.md §7): mmpretrain's BYOL networks, FA
# on the target projections (Parallel-predictor layout); target EMA tau 0.99 -> 1.0
# cosine. No stop_grad key: BYOL's target is an EMA copy the optimiser never
# updates, so its gradient is always stopped (FALatentPredictHead rejects the key).
_base_ = './fa-base_resnet50.py'
model = dict(
    type='FABYOL',
    target_decay=0.99,
    backbone=dict(zero_init_residual=False),
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
        type='FALatentPredictHead',
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
        loss=dict(type='CosineSimilarityLoss'),
        augmenter=dict(type=None),  # no FA; children set the method
        num_aug=1,
        free_loss=False))
