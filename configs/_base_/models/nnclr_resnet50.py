# NNCLR (Dwibedi et al., ICCV 2021, arXiv:2104.14548) as a config of the
# Parallel-predictor layout (docs/design.md §15): the same networks (projector
# 2048-2048-2048-256 with BN, predictor 256-4096-256), NN FA in the replace mode
# (the bank neighbour of z_i+ takes the place of z_i+, NNCLR's rule, detached),
# support set 98304, tau 0.1 (VISSL's NNCLR reproduction, nnclr_8node_resnet.yaml).
_base_ = './parallel-predictor-fa_resnet50.py'
model = dict(
    head=dict(
        augmenter=dict(
            type='NearestNeighborFA',
            bank=dict(type='FeatureBank', size=98304, dim=256)),
        num_aug=1,
        fa_mode='replace',
        temperature=0.1))
