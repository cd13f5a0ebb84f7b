# Copyright (c) mmfa contributors. All rights reserved.
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmfa  # noqa: F401
from tests.test_benchmarks.data_utils import make_pretrain_checkpoint
from tests.utils import ROOT, load_tool

CONFIG = osp.join(ROOT, 'configs', 'benchmarks', 'mmdet', 'voc0712',
                  'faster-rcnn_r50-c4_ms-24k_voc0712.py')


@pytest.fixture(scope='module')
def extracted_r50(tmp_path_factory):
    """A fake ResNet-50 pre-training checkpoint, extracted with the converter."""
    tmp = tmp_path_factory.mktemp('r50')
    ckpt = str(tmp / 'pretrain.pth')
    expected = make_pretrain_checkpoint(ckpt, depth=50)
    tool = load_tool('tools/model_converters/extract_backbone.py')
    out = str(tmp / 'backbone.pth')
    tool.main([ckpt, out])
    return out, expected


def test_config_follows_the_moco_detectron2_protocol():
    cfg = Config.fromfile(CONFIG)
    assert cfg.default_scope == 'mmdet'
    assert 'mmfa.evaluation.det_transfer' in cfg.custom_imports.imports
    model = cfg.model
    pre = model.data_preprocessor
    assert (pre.mean, pre.std, pre.bgr_to_rgb) == \
        ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375], True)
    backbone, head = model.backbone, model.roi_head.shared_head
    assert (backbone.depth, backbone.style, backbone.frozen_stages) == \
        (50, 'pytorch', -1)
    for module in (backbone, head):
        assert module.norm_cfg.type == 'SyncBN'
        assert module.norm_eval is False
        assert module.init_cfg.type == 'PretrainedStrict'
        assert module.init_cfg.prefix == 'backbone.'
    assert head.type == 'ResLayerExtraNorm' and head.style == 'pytorch'
    assert model.roi_head.bbox_head.num_classes == 20
    # schedule: 24k iterations, batch 2 x 8 GPUs, lr 0.02, steps 18k/22k
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 24000
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.by_epoch) == ('LinearLR', 100,
                                                          False)
    assert (steps.type, steps.milestones) == ('MultiStepLR', [18000, 22000])
    # data: VOC07+12 trainval, multi-scale 480..800 / 800, VOC07 test
    datasets = cfg.train_dataloader.dataset.datasets
    assert [d.ann_file for d in datasets] == [
        'VOC2007/ImageSets/Main/trainval.txt',
        'VOC2012/ImageSets/Main/trainval.txt'
    ]
    resize = datasets[0].pipeline[2]
    assert [s[1] for s in resize.scales] == list(range(480, 801, 32))
    assert all(s[0] == 1333 for s in resize.scales)
    assert cfg.val_dataloader.dataset.ann_file == \
        'VOC2007/ImageSets/Main/test.txt'
    assert cfg.val_dataloader.dataset.pipeline[1].scale == (1333, 800)
    assert cfg.val_evaluator.type == 'VOCDetectionAP'
    assert cfg.val_evaluator.eval_mode == '11points'


def _cpu_cfg(checkpoint, voc_root=None, work_dir=None):
    """The real config with BN instead of SyncBN (CPU) and tiny sizes."""
    cfg = Config.fromfile(CONFIG)
    for module in (cfg.model.backbone, cfg.model.roi_head.shared_head):
        module.norm_cfg = dict(type='BN', requires_grad=True)
        module.init_cfg.checkpoint = checkpoint
    if voc_root is None:
        return cfg
    cfg.work_dir = work_dir
    # few RoIs so that res5 on CPU stays cheap
    cfg.model.train_cfg.rpn_proposal.max_per_img = 16
    cfg.model.train_cfg.rcnn.sampler.num = 8
    cfg.model.test_cfg.rpn.max_per_img = 8
    for dataset in cfg.train_dataloader.dataset.datasets:
        dataset.data_root = voc_root
        dataset.pipeline[2].scales = [(160, 96), (160, 128)]
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.val_dataloader.dataset.data_root = voc_root
    cfg.val_dataloader.dataset.pipeline[1].scale = (160, 96)
    cfg.val_dataloader.num_workers = 0
    cfg.val_dataloader.persistent_workers = False
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.nproc = 1
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_begin = 3  # evaluated once, by the test
    cfg.custom_hooks = [dict(type='DetPreciseBNHook', num_iters=1)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 100
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.randomness = dict(seed=0)
    return cfg


def test_backbone_and_res5_head_load_the_extracted_backbone(extracted_r50):
    from mmdet.registry import MODELS
    path, expected = extracted_r50
    cfg = _cpu_cfg(path)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        model.init_weights()
    backbone = model.backbone.state_dict()
    head = model.roi_head.shared_head.state_dict()
    for key, value in expected.items():
        if key.startswith('layer4.'):
            assert key not in backbone  # res5 lives in the RoI head
            assert torch.equal(head[key], value), key
        else:
            assert torch.equal(backbone[key], value), key
    # the extra BN after res5 is new: BN's default initialisation
    norm = model.roi_head.shared_head.norm
    assert torch.equal(norm.weight, torch.ones(2048))
    assert torch.equal(norm.bias, torch.zeros(2048))
    assert norm.training is True or not model.training


def test_detection_rejects_a_checkpoint_without_backbone_weights(tmp_path):
    from mmdet.registry import MODELS
    path = str(tmp_path / 'bad.pth')
    torch.save({'state_dict': {'predictor.fc.weight': torch.zeros(2)}}, path)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(_cpu_cfg(path).model)
        with pytest.raises(RuntimeError, match='predictor.fc.weight'):
            model.init_weights()


def test_faster_rcnn_c4_trains_and_reports_voc_ap(tmp_path, voc_root,
                                                  extracted_r50):
    from mmengine.runner import Runner
    path, _ = extracted_r50
    cfg = _cpu_cfg(path, voc_root, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    # VOC07+12: both years' trainval images are in the training set
    assert len(runner.train_dataloader.dataset) == 4
    assert runner.iter == 2
    metrics = runner.val()
    assert set(metrics) == {
        'pascal_voc/AP', 'pascal_voc/AP50', 'pascal_voc/AP75'
    }
    for value in metrics.values():
        assert 0.0 <= value <= 100.0
