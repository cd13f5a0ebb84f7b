# The instance-discrimination recipe for 100 epochs.
_base_ = './lars_coslr-200e_fa-id.py'
max_epochs = 100
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
        T_max=max_epochs - 10,
        eta_min=0.,
        by_epoch=True,
        begin=10,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
