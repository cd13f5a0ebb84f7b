# Basic layout with the strong projector (Table I, '+strong proj').
_base_ = './parallel-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py'
model = dict(type='BasicFA', predictor=None)
