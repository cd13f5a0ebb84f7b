_base_ = './pre-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py'
model = dict(head=dict(augmenter=dict(type='MixupNoiseFA', noise='nn'), stop_grad=False))
