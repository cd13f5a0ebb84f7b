# Linear evaluation after instance-similarity (BYOL) pre-training
# (configs/selfsup/fa_byol/): lr 0.2 (Zhang et al., arXiv:2410.12396).
_base_ = './_base_/resnet50_linear-8xb32-steplr-60e_in1k.py'

optim_wrapper = dict(optimizer=dict(lr=0.2))
