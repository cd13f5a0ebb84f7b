_base_ = './nnclr_resnet50_8xb64-accum8-coslr-1000e_in1k.py'
train_cfg = dict(max_epochs=100)
