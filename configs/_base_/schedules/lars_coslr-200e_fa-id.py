# Instance discrimination recipe (docs/design.md §10): LARS (trust coefficient 0.02,
# BN and bias excluded from LARS and weight decay), lr 0.4, momentum 0.9, wd 1e-5,
# 10 warm-up epochs then cosine, gradient clipping, batch 512 (8 x 64) accumulated
# 8 times toward NNCLR's 4096.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='LARS', lr=0.4, momentum=0.9, weight_decay=1e-5, eta=0.02),
    accumulative_counts=8,
    # The paper clips without giving the norm; mmfa uses 3.0.
    clip_grad=dict(max_norm=3.0),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            # the BN of ResNet's downsample branch
            'downsample.1': dict(decay_mult=0, lars_exclude=True),
        }))

max_epochs = 200
# The cosine phase has no `end` / `T_max`: mmengine's Runner ends it at
# train_cfg.max_epochs, so a child changes the length with train_cfg alone.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-4,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=0.,
        by_epoch=True,
        begin=10,
        convert_to_iter_based=True),
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs)
# Effective batch for --auto-scale-lr (8 GPUs x 64, before accumulation).
auto_scale_lr = dict(base_batch_size=512)
