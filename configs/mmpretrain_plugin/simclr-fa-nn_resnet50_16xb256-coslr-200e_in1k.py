# Feature augmentation added to mmpretrain's own SimCLR config, as a plugin: its
# ResNet-50, projector, ImageNet pipeline and LARS schedule stay; the algorithm becomes
# mmfa's Basic layout (SimCLR + FA, docs/design.md §6) with nearest-neighbour FA
# (docs/design.md §4-5). The base is read from mmpretrain's installed package
# (mmpretrain ships its configs in mmpretrain/.mim).
_base_ = 'mmpretrain::simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py'

# Registers mmfa's models and hooks in mmfa's registries (and applies mmfa's fixes for
# the pinned stack). The config keeps mmpretrain's default scope, so mmfa's modules
# are named with their scope: 'mmfa.<Type>'.
custom_imports = dict(
    imports=['mmfa.models', 'mmfa.engine'], allow_failed_imports=False)

model = dict(
    type='mmfa.BasicFA',
    # Eq. 1/2 over the other view (docs/design.md §2), not SimCLR's 2N-1 negatives;
    # mmpretrain SimCLR's temperature and 128-d projection are kept.
    head=dict(
        _delete_=True,
        type='mmfa.FAContrastiveHead',
        augmenter=dict(
            type='NearestNeighborFA',
            bank=dict(type='FeatureBank', size=65536, dim=128)),
        num_aug=1,
        temperature=0.1))

# Logs the feature bank (the model writes it; docs/design.md §5).
custom_hooks = [dict(type='mmfa.FeatureBankHook')]

# mmengine tags every typed dict of a 'pkg::' base with _scope_, and passes the
# collate_fn dict's keys to the function itself: restate it without the tag.
train_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
