# Copyright (c) mmfa contributors. All rights reserved.
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmfa  # noqa: F401
from tests.test_benchmarks.data_utils import make_pretrain_checkpoint

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', 'benchmarks', 'mmpretrain')


def _cfg(name):
    return Config.fromfile(osp.join(CFG_DIR, name))


@pytest.mark.parametrize('data,classes', [('in1k', 1000), ('in100', 100)])
@pytest.mark.parametrize('family,lr', [('fa-id', 1.0), ('fa-byol', 0.2)])
def test_linear_eval_configs_follow_the_paper_protocol(data, classes, family,
                                                       lr):
    cfg = _cfg(f'{family}_resnet50_linear-8xb32-steplr-60e_{data}.py')
    assert cfg.default_scope == 'mmfa'
    backbone = cfg.model.backbone
    assert (backbone.depth, backbone.frozen_stages, backbone.norm_eval) == \
        (50, 4, True)
    assert backbone.init_cfg.type == 'PretrainedStrict'
    assert backbone.init_cfg.prefix == 'backbone.'
    assert not backbone.init_cfg.checkpoint  # given at launch, no default
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', lr, 0.9, 0.)
    assert cfg.train_cfg.max_epochs == 60
    [sched] = cfg.param_scheduler
    assert (sched.type, sched.milestones, sched.gamma) == \
        ('MultiStepLR', [40, 50, 55], 0.1)
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.model.head.num_classes == classes
    assert cfg.data_preprocessor.num_classes == classes
    if data == 'in100':
        for loader in ('train', 'val', 'test'):
            dataset = cfg[f'{loader}_dataloader'].dataset
            assert dataset.data_root == 'data/imagenet100/'
            split = 'train' if loader == 'train' else 'val'
            assert dataset.ann_file == f'meta/{split}.txt'


def test_leaf_configs_only_change_the_lr():
    for path in glob.glob(osp.join(CFG_DIR, 'fa-*_*.py')):
        leaf = Config.fromfile(path).to_dict()
        base_name = osp.basename(path).split('_', 1)[1]
        base = _cfg(osp.join('_base_', base_name)).to_dict()
        leaf['optim_wrapper']['optimizer'].pop('lr')
        base['optim_wrapper']['optimizer'].pop('lr')
        assert leaf == base, path


def test_lars_variant_inherits_mmpretrain():
    cfg = _cfg('resnet50_linear-8xb512-lars-coslr-90e_in1k.py')
    assert cfg.optim_wrapper.optimizer.type == 'LARS'
    assert cfg.train_cfg.max_epochs == 90
    assert cfg.train_dataloader.batch_size == 512
    assert cfg.model.backbone.init_cfg.type == 'PretrainedStrict'
    assert cfg.model.backbone.frozen_stages == 4


def test_no_config_downloads_anything():
    paths = glob.glob(osp.join(ROOT, 'configs', 'benchmarks', '**', '*.py'),
                      recursive=True)
    assert paths
    for path in paths:
        text = Config.fromfile(path).pretty_text
        assert '://' not in text, path


def _tiny_linear_cfg(imagenet_root, ckpt, work_dir):
    cfg = _cfg('fa-byol_resnet50_linear-8xb32-steplr-60e_in100.py')
    cfg.work_dir = work_dir
    cfg.model.backbone.depth = 18
    cfg.model.head.in_channels = 512
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.dataset.data_root = imagenet_root
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
    for pipeline in (cfg.train_dataloader.dataset.pipeline,
                     cfg.val_dataloader.dataset.pipeline):
        for t in pipeline:  # small crops keep the CPU test fast
            if t.type == 'RandomResizedCrop':
                t.scale = 32
            elif t.type == 'ResizeEdge':
                t.scale = 36
            elif t.type == 'CenterCrop':
                t.crop_size = 32
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.randomness = dict(seed=0)
    return cfg


def test_linear_eval_trains_the_head_on_a_frozen_pretrained_backbone(
        tmp_path, imagenet_root):
    from mmengine.runner import Runner
    ckpt = str(tmp_path / 'pretrain.pth')
    expected = make_pretrain_checkpoint(ckpt, depth=18)
    cfg = _tiny_linear_cfg(imagenet_root, ckpt, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    # the backbone holds the pre-trained weights and BN statistics, untouched by
    # the training (frozen, norm_eval)
    own = model.backbone.state_dict()
    for key, value in expected.items():
        assert torch.equal(own[key], value), key
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ['head.fc.weight', 'head.fc.bias']
    # the head was optimised: SGD momentum buffers exist and are non-zero
    state = runner.optim_wrapper.optimizer.state
    assert state[model.head.fc.weight]['momentum_buffer'].abs().sum() > 0
    metrics = runner.val()
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
    assert 'accuracy/top5' in metrics


def test_linear_eval_rejects_a_checkpoint_without_backbone_weights(
        tmp_path, imagenet_root):
    from mmengine.runner import Runner
    ckpt = str(tmp_path / 'no_backbone.pth')
    torch.save(
        {
            'state_dict': {
                'neck.mlp.0.weight': torch.zeros(4, 4),
                'head.fc.weight': torch.zeros(2, 4)
            }
        }, ckpt)
    cfg = _tiny_linear_cfg(imagenet_root, ckpt, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match='no weights for ResNet') as err:
        runner.train()
    assert 'neck.mlp.0.weight' in str(err.value)
