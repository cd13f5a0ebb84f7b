# Instance similarity (BYOL) recipe (docs/design.md §10): LARS (trust coefficient
# 0.01, BN and bias excluded), lr 0.45, momentum 0.9, wd 1e-6, no gradient
# clipping, batch 512 (8 x 64), 10 warm-up epochs then cosine, 100 epochs.
_base_ = './lars_coslr-100e_fa-id.py'
optim_wrapper = dict(
    optimizer=dict(lr=0.45, weight_decay=1e-6, eta=0.01),
    accumulative_counts=1,
    clip_grad=None)
