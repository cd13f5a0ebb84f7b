# Copyright (c) mmfa contributors. All rights reserved.
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmfa  # noqa: F401
from tests.test_benchmarks.data_utils import make_pretrain_checkpoint
from tests.utils import ROOT, load_tool

CONFIG = osp.join(ROOT, 'configs', 'benchmarks', 'mmpretrain',
                  'fa-id_resnet50_linear-8xb32-steplr-60e_in100.py')


def _load_tool():
    return load_tool('tools/analysis_tools/knn_eval.py')


def _small_args(imagenet_root, extra=()):
    return [
        '--batch-size', '2', '--num-workers', '0', '--device', 'cpu',
        '--cfg-options', 'model.backbone.depth=18',
        f'train_dataloader.dataset.data_root={imagenet_root}',
        f'val_dataloader.dataset.data_root={imagenet_root}',
        'val_dataloader.dataset.pipeline.1.scale=36',
        'val_dataloader.dataset.pipeline.2.crop_size=32', *extra
    ]


def test_memory_uses_the_val_pipeline_without_shuffling():
    tool = _load_tool()
    cfg = Config.fromfile(CONFIG)
    train, val = tool.knn_dataloader_cfgs(cfg)
    assert train['dataset']['pipeline'] == val['dataset']['pipeline']
    assert all(t['type'] != 'RandomResizedCrop'
               for t in train['dataset']['pipeline'])
    assert train['sampler'] == dict(type='DefaultSampler', shuffle=False)
    assert train['dataset']['ann_file'] == 'meta/train.txt'
    assert val['dataset']['ann_file'] == 'meta/val.txt'
    # dedicated keys win
    cfg.knn_train_dataloader = dict(
        batch_size=1, dataset=dict(type='X', pipeline=[]))
    assert tool.knn_dataloader_cfgs(cfg)[0]['dataset']['type'] == 'X'


def test_knn_eval_finds_each_image_itself_with_k1(tmp_path, imagenet_root):
    """Querying the train set against its own memory: with k=1 every image is its
    own nearest neighbour, so top-1 is exactly 100 -- which holds only when the
    features and labels of both passes line up."""
    ckpt = str(tmp_path / 'pretrain.pth')
    make_pretrain_checkpoint(ckpt, depth=18)
    work_dir = str(tmp_path / 'knn')
    results = _load_tool().main([
        CONFIG, ckpt, '--k', '1', '3', '--work-dir', work_dir,
        *_small_args(imagenet_root, [
            'val_dataloader.dataset.split=train',
            'val_dataloader.dataset.ann_file=meta/train.txt'
        ])
    ])
    assert results['knn/top1_k1'] == pytest.approx(100.0)
    assert set(results) == {
        'knn/top1_k1', 'knn/top5_k1', 'knn/top1_k3', 'knn/top5_k3'
    }
    with open(osp.join(work_dir, 'knn_results.json')) as f:
        saved = json.load(f)
    assert saved['results'] == pytest.approx(results)


def test_knn_eval_rejects_a_checkpoint_without_backbone(tmp_path,
                                                        imagenet_root):
    ckpt = str(tmp_path / 'bad.pth')
    torch.save({'state_dict': {'projector.weight': torch.zeros(2, 2)}}, ckpt)
    with pytest.raises(RuntimeError, match='projector.weight'):
        _load_tool().main([
            CONFIG, ckpt, '--work-dir',
            str(tmp_path / 'knn'), *_small_args(imagenet_root)
        ])
