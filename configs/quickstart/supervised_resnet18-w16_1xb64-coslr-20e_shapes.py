# Quickstart upper reference: the same ResNet-18 (width 16) trained from scratch with
# the labels on the same images, for about the wall time of one pre-training; its
# backbone is then evaluated like the pre-trained ones (kNN, linear probe, detection).
_base_ = './linear_resnet18-w16_1xb64-coslr-10e_shapes.py'

model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_eval=False,
        zero_init_residual=True,
        init_cfg=None))
optim_wrapper = dict(optimizer=dict(lr=0.2, weight_decay=5e-4))
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
