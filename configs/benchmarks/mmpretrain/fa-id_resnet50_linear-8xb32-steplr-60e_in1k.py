# Linear evaluation after instance-discrimination pre-training
# (configs/selfsup/fa_id/): lr 1.0 (Zhang et al., arXiv:2410.12396).
_base_ = './_base_/resnet50_linear-8xb32-steplr-60e_in1k.py'

optim_wrapper = dict(optimizer=dict(lr=1.0))
