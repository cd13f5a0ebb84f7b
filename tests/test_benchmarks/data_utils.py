# Copyright (c) mmfa contributors. All rights reserved.
"""Generators of tiny data and checkpoints for the downstream-evaluation tests
(also used by tests/test_evaluation and tests/test_tools)."""
import os
import os.path as osp

import numpy as np
import torch
from PIL import Image

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
               'tvmonitor')


def make_imagenet_folder(root, classes=('n0001', 'n0002', 'n0003'),
                         num_train=2, num_val=1, size=40, seed=0):
    """mmpretrain ImageNet layout with annotation files:
    ``{train,val}/<wnid>/<wnid>_<i>.JPEG`` and ``meta/{train,val}.txt``."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for split, num in (('train', num_train), ('val', num_val)):
        lines = []
        for label, wnid in enumerate(classes):
            os.makedirs(osp.join(root, split, wnid), exist_ok=True)
            for i in range(num):
                # class-specific mean colour, so features differ by class
                base = np.array([60 + 80 * label, 200 - 70 * label, 120])
                img = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0,
                              255).astype(np.uint8)
                name = f'{wnid}/{wnid}_{split}_{i}.JPEG'
                Image.fromarray(img).save(
                    osp.join(root, split, name), format='JPEG')
                lines.append(f'{name} {label}')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root


def _voc_xml(width, height, objects):
    objs = ''.join(
        f'<object><name>{name}</name><pose>Unspecified</pose>'
        f'<truncated>0</truncated><difficult>{difficult}</difficult>'
        f'<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>'
        f'<ymax>{y2}</ymax></bndbox></object>'
        for name, (x1, y1, x2, y2), difficult in objects)
    return (f'<annotation><folder>VOC</folder><filename>x.jpg</filename>'
            f'<size><width>{width}</width><height>{height}</height>'
            f'<depth>3</depth></size><segmented>0</segmented>{objs}'
            '</annotation>')


def make_voc_folder(root, years=(2007, 2012), num_trainval=2, num_test=2,
                    width=128, height=96, seed=0):
    """``VOCdevkit``-style folders: ``VOC<year>/{JPEGImages,Annotations,
    ImageSets/Main/{trainval,test}.txt}`` with 1-3 boxes of VOC classes per image
    (1-based inclusive pixel coordinates, as in the VOC XML files)."""
    rng = np.random.default_rng(seed)
    for year in years:
        voc = osp.join(root, f'VOC{year}')
        for sub in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
            os.makedirs(osp.join(voc, sub), exist_ok=True)
        splits = {'trainval': num_trainval}
        if year == 2007:
            splits['test'] = num_test
        for split, num in splits.items():
            ids = []
            for i in range(num):
                img_id = f'{year}_{split}_{i:03d}'
                img = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
                objects = []
                for _ in range(int(rng.integers(1, 4))):
                    w, h = rng.integers(24, 56), rng.integers(24, 48)
                    x1 = int(rng.integers(1, width - w))
                    y1 = int(rng.integers(1, height - h))
                    x2, y2 = x1 + int(w), y1 + int(h)
                    img[y1 - 1:y2, x1 - 1:x2] = 200  # a visible object
                    objects.append(
                        (VOC_CLASSES[int(rng.integers(0, 20))],
                         (x1, y1, x2, y2), 0))
                Image.fromarray(img).save(
                    osp.join(voc, 'JPEGImages', f'{img_id}.jpg'))
                with open(osp.join(voc, 'Annotations', f'{img_id}.xml'),
                          'w') as f:
                    f.write(_voc_xml(width, height, objects))
                ids.append(img_id)
            with open(osp.join(voc, 'ImageSets', 'Main', f'{split}.txt'),
                      'w') as f:
                f.write('\n'.join(ids) + '\n')
    return root


def make_pretrain_checkpoint(path, depth=18, seed=0):
    """A fake pre-training checkpoint of an mmpretrain ResNet: the backbone under
    ``backbone.``, plus neck/head/momentum-encoder entries that must be ignored.
    BN parameters and statistics are random (non-trivial) so loading is visible.

    Returns:
        dict: The backbone state dict (without prefix).
    """
    from mmpretrain.models import ResNet
    torch.manual_seed(seed)
    backbone = ResNet(depth=depth, out_indices=(3, ))
    backbone.init_weights()
    state = backbone.state_dict()
    for key, value in state.items():
        if key.endswith(('bn1.weight', 'bn2.weight', 'bn3.weight',
                         'downsample.1.weight')):
            value.copy_(1 + 0.1 * torch.randn_like(value))
        elif key.endswith(('.bias', 'running_mean')):
            value.copy_(0.1 * torch.randn_like(value))
        elif key.endswith('running_var'):
            value.copy_(1 + 0.2 * torch.rand_like(value))
    channels = 512 if depth < 50 else 2048
    full = {f'backbone.{k}': v for k, v in state.items()}
    full.update({
        'neck.mlp.0.weight': torch.randn(16, channels),
        'head.predictor.weight': torch.randn(16, 16),
        'target_net.0.conv1.weight': torch.randn_like(state['conv1.weight']),
        'target_net.0.bn1.weight': torch.randn_like(state['bn1.weight']),
    })
    torch.save({'state_dict': full, 'meta': {'epoch': 1}}, path)
    return {k: v.clone() for k, v in state.items()}
