# ImageNet-100 (the CMC 100-class subset, classes in imagenet100_classes.txt) for
# pre-training with BYOL's augmentation (imagenet1k_pretrain.py). Build the
# annotation files with
#   python tools/dataset_converters/build_imagenet100.py data/imagenet data/imagenet100 --link
_base_ = './imagenet1k_pretrain.py'

data_root = 'data/imagenet100/'
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        split='',
        ann_file='meta/train.txt',
        data_prefix='train'))
