_base_ = './parallel-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py'
model = dict(head=dict(augmenter=dict(type='MixupNoiseFA', noise='gaussian'), stop_grad=False))
