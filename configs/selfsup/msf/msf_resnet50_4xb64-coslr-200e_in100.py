_base_ = './msf_resnet50_4xb64-coslr-200e_in1k.py'
# ImageNet-100, the subset of imagenet100_byol-aug.py (the paper's Table I data).
train_dataloader = dict(dataset=dict(
    data_root='data/imagenet100/', split='', ann_file='meta/train.txt', data_prefix='train'))
