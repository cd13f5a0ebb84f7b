# The instance-discrimination recipe for 100 epochs (the cosine phase follows).
_base_ = './lars_coslr-200e_fa-id.py'
train_cfg = dict(max_epochs=100)
