_base_ = './parallel-predictor_resnet18-w16_1xb64-coslr-45e_shapes.py'
model = dict(head=dict(augmenter=dict(type='MaskFA', ratio=0.2)))
