# ImageNet-100 (the subset of imagenet100_byol-aug.py) with mmpretrain's MoCo v2
# views and loader (batch 32 per GPU), the data of its MoCo v2 and SimSiam configs.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs32_mocov2.py'

data_root = 'data/imagenet100/'
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        split='',
        ann_file='meta/train.txt',
        data_prefix='train'))
