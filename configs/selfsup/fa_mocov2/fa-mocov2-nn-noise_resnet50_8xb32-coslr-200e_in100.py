_base_ = './fa-mocov2_resnet50_8xb32-coslr-200e_in100.py'
model = dict(head=dict(augmenter=dict(type='MixupNoiseFA', noise='nn', bank=_base_.fa_bank)))
