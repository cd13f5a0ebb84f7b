# The ImageNet-1k linear-evaluation protocol on ImageNet-100 (the CMC 100-class subset,
# configs/_base_/datasets/imagenet100_classes.txt), Tables I-IV of Zhang et al.,
# arXiv:2410.12396. Data layout: mmpretrain's ImageNet folders under
# data/imagenet100/{train,val}/ with annotation files data/imagenet100/meta/
# {train,val}.txt ("<path relative to train/ or val/> <label 0..99>" per line), built by
#   python tools/dataset_converters/build_imagenet100.py \
#       data/imagenet data/imagenet100 --link
_base_ = './resnet50_linear-8xb32-steplr-60e_in1k.py'

data_root = 'data/imagenet100/'
data_preprocessor = dict(num_classes=100)
model = dict(head=dict(num_classes=100))

train_dataloader = dict(
    dataset=dict(data_root=data_root, split='train', ann_file='meta/train.txt'))
val_dataloader = dict(
    dataset=dict(data_root=data_root, split='val', ann_file='meta/val.txt'))
test_dataloader = val_dataloader
