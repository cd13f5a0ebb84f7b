# ImageNet-100 (the dataset of imagenet100_byol-aug.py) with the batched augmentation
# path of imagenet1k_byol-aug_batched.py; see that file for how a config switches to it.
_base_ = './imagenet1k_byol-aug_batched.py'

data_root = 'data/imagenet100/'
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        split='',
        ann_file='meta/train.txt',
        data_prefix='train'))
