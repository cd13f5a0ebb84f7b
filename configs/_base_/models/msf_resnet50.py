# MSF (Koohpayegani et al., ICCV 2021, arXiv:2105.07269) as a config of FA-BYOL
# (docs/design.md §15), with the official code's values (UMBCvision/MSF,
# train_msf.py and its README command): one direction (query = view 1, target =
# view 2, AsymmetricFABYOL), projector 2048-4096-512 and predictor 512-4096-512
# (BN, no last BN), NN FA in the average mode over k = 10 targets (the target and
# its 9 nearest bank entries), a 128,000-entry bank, target EMA 0.99 constant.
_base_ = './fa-byol_resnet50.py'
model = dict(
    type='AsymmetricFABYOL',
    target_decay=0.99,
    target_decay_end=0.99,
    neck=dict(out_channels=512),
    head=dict(
        predictor=dict(in_channels=512, out_channels=512),
        augmenter=dict(
            type='NearestNeighborFA',
            bank=dict(type='FeatureBank', size=128000, dim=512)),
        num_aug=10,
        fa_mode='average'))
