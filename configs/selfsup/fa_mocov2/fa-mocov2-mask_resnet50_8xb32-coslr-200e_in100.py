_base_ = './fa-mocov2_resnet50_8xb32-coslr-200e_in100.py'
model = dict(head=dict(augmenter=dict(type='MaskFA', ratio=0.2)))
