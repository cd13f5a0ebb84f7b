_base_ = './parallel-predictor-gaussian-noise_resnet50_8xb64-accum8-coslr-200e_in100.py'
model = dict(head=dict(stop_grad=False))
