# Copyright (c) mmfa contributors. All rights reserved.
"""Helpers of the packaging tests."""
import os
import os.path as osp
import shutil
import subprocess
import sys

from tests.utils import ROOT

# What setup.py and MANIFEST.in need to build mmfa.
SOURCES = ('setup.py', 'MANIFEST.in', 'README.md', 'model-index.yml',
           'requirements.txt', 'requirements', 'mmfa', 'configs', 'tools')


def copy_sources(dst):
    """Copy what a build needs to ``dst`` (builds write build/, *.egg-info and,
    for editable installs, mmfa/.mim links into the source tree)."""
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.mim',
                                    '*.egg-info')
    os.makedirs(dst, exist_ok=True)
    for name in SOURCES:
        path = osp.join(ROOT, name)
        if osp.isdir(path):
            shutil.copytree(path, osp.join(dst, name), ignore=ignore)
        else:
            shutil.copy(path, osp.join(dst, name))
    return str(dst)


def pip(*args, python=None, timeout=300):
    """Run this interpreter's pip offline; return the finished process."""
    cmd = [sys.executable, '-m', 'pip', '--disable-pip-version-check']
    if python is not None:
        cmd += ['--python', python]
    return subprocess.run(
        cmd + list(args), capture_output=True, text=True, timeout=timeout)


PLUGIN_CONFIG = ('configs/mmpretrain_plugin/'
                 'simclr-fa-nn_resnet50_16xb256-coslr-200e_in1k.py')


def write_tiny_plugin_config(path, base, data_root, bank_size=32):
    """A CPU-sized child of the mmpretrain-plugin config ``base``: a narrow
    ResNet-18, a 16-d projection, a small bank, 32 px images from ``data_root``
    (one epoch; every other setting, LARS included, comes from the base)."""
    with open(path, 'w') as f:
        f.write(f"""_base_ = {str(base)!r}
model = dict(
    backbone=dict(depth=18, base_channels=16, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=128, hid_channels=32, out_channels=16),
    head=dict(augmenter=dict(bank=dict(size={bank_size}, dim=16))))
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root={str(data_root)!r},
        with_label=False,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=2, transforms=[[
                dict(type='RandomResizedCrop', scale=32),
                dict(type='RandomFlip', prob=0.5)]]),
            dict(type='PackInputs'),
        ]))
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
""")
    return str(path)
