# What every mmfa pre-training model shares: mmpretrain's self-supervised data
# preprocessor (ImageNet mean/std, RGB) and a ResNet-50 with SyncBN (reverted to BN
# when training on one process or on CPU). `_scope_='mmfa'` lets tools that build in
# their own scope find mmfa's types, e.g. `mim run mmpretrain get_flops <config>`.
model = dict(
    _scope_='mmfa',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=True))
