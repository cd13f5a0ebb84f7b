_base_ = './post-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py'
model = dict(head=dict(augmenter=dict(type='MaskFA', ratio=0.2), stop_grad=False))
