# Copyright (c) mmfa contributors. All rights reserved.
"""The NNCLR, MSF, FA-MoCo v2 and FA-SimSiam configs (docs/design.md §15) load,
build and train three optimizer steps on CPU with a tiny backbone; the MoCo v2 and
SimSiam networks are mmpretrain's own."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import MessageHub
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from tests.utils import ROOT

FOLDERS = ('nnclr', 'msf', 'fa_mocov2', 'fa_simsiam')
LEAVES = sorted(
    p for folder in FOLDERS
    for p in glob.glob(osp.join(ROOT, 'configs', 'selfsup', folder, '*.py')))
# Channel widths of the tiny model; the backbone-facing necks take the tiny
# ResNet-18's 16 * 8 = 128 channels.
TINY = {2048: 64, 4096: 64, 512: 32, 256: 32, 128: 32}
CHANNEL_KEYS = ('in_channels', 'hid_channels', 'out_channels', 'dim',
                'feat_dim')


def _rel(path):
    return osp.relpath(path, ROOT)


def _tiny(node):
    """ResNet-50 -> ResNet-18 of width 16, every head width and bank shrunk
    consistently (so SimSiam's 2048-d projector still feeds its predictor)."""
    if isinstance(node, dict):
        if node.get('type') == 'ResNet':
            node.update(depth=18, base_channels=16)
        for key in CHANNEL_KEYS:
            if key in node and node[key] in TINY:
                backbone_facing = (key == 'in_channels'
                                   and node.get('with_avg_pool'))
                node[key] = 128 if backbone_facing else TINY[node[key]]
        if node.get('type') == 'FeatureBank':
            node['size'] = 64
        if 'queue_len' in node:
            node['queue_len'] = 64
        for value in node.values():
            _tiny(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _tiny(value)
    return node


@pytest.fixture(autouse=True)
def _scope():
    import mmfa.utils
    mmfa.utils.register_all_modules(False)
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 10)
    hub.update_info('iter', 0)
    with DefaultScope.overwrite_default_scope('mmfa'):
        yield


def test_every_family_has_configs_readme_and_metafile():
    assert len(LEAVES) == 4 + 2 + 6 + 6
    for folder in FOLDERS:
        for name in ('README.md', 'metafile.yml'):
            assert osp.isfile(osp.join(ROOT, 'configs/selfsup', folder, name))


@pytest.mark.parametrize('path', LEAVES, ids=_rel)
def test_leaf_loads_builds_and_trains_three_steps(path):
    from mmfa.models.memories import FeatureBank
    from mmfa.registry import MODELS
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmfa'
    assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(_tiny(cfg.model.to_dict())))
    model = revert_sync_batchnorm(model).train()
    # Three optimizer steps: one micro-batch each (NNCLR accumulates 8).
    optim = build_optim_wrapper(
        model, dict(cfg.optim_wrapper, accumulative_counts=1))
    before = [p.detach().clone() for p in model.backbone.parameters()]
    g = torch.Generator().manual_seed(0)
    for step in range(3):
        data = dict(inputs=[torch.randint(0, 256, (4, 3, 32, 32),
                                          generator=g).float()
                            for _ in range(2)],
                    data_samples=None)
        losses = model.train_step(data, optim)
        assert torch.isfinite(losses['loss'])
        # the training loss enqueued the step's positives (one per image)
        for bank in (m for m in model.modules() if isinstance(m, FeatureBank)):
            assert bank.num_received == 4 * (step + 1)
    moved = [not torch.equal(a, b.detach())
             for a, b in zip(before, model.backbone.parameters())]
    assert any(moved)


@pytest.mark.parametrize('family, reference', [
    ('fa-mocov2', 'mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'),
    ('fa-simsiam', 'simsiam/simsiam_resnet50_8xb32-coslr-200e_in1k.py'),
])
def test_fa_networks_are_mmpretrains(family, reference):
    """The model base states mmpretrain's networks: equal key by key, apart from
    the FA types and FA-only head keys."""
    ours = Config.fromfile(
        osp.join(ROOT, f'configs/_base_/models/{family}_resnet50.py')).model
    from mmfa.utils.compat import get_installed_path
    theirs = Config.fromfile(
        osp.join(get_installed_path('mmpretrain'), '.mim', 'configs',
                 reference)).model
    fa_only = {'augmenter', 'num_aug', 'free_loss', 'fa_mode'}
    for key in theirs:
        if key == 'type':
            assert ours.type == 'FA' + theirs.type
        elif key == 'head':
            head = {k: v for k, v in ours.head.items() if k not in fa_only}
            head['type'] = theirs.head.type
            assert head == theirs.head.to_dict()
        else:
            assert ours[key] == theirs[key], key


def test_method_leaves_are_two_lines_of_inheritance():
    for path in LEAVES:
        with open(path) as f:
            code = [line for line in f.read().splitlines()
                    if line.strip() and not line.lstrip().startswith('#')]
        first = code[0]
        if first.startswith("_base_ = './"):
            # A child of its folder's root config: one base, a few keys.
            assert len(code) <= 5, _rel(path)
            parent = osp.join(osp.dirname(path), first.split("'")[1])
            with open(parent) as f:
                assert not f.read().startswith("_base_ = './"), \
                    f'{_rel(path)}: a chain of sibling leaves'
