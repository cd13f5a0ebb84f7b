# Copyright (c) mmfa contributors. All rights reserved.
"""Every config loads and builds; the paper-table READMEs match the files."""
import glob
import importlib
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import MessageHub
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope

from tests.utils import ROOT

CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True)
    if f'{osp.sep}_base_{osp.sep}' not in p)
SELFSUP = [p for p in CONFIGS if f'{osp.sep}selfsup{osp.sep}' in p]


def _rel(path):
    return osp.relpath(path, ROOT)


def _shrink(model_cfg):
    """ResNet-50 -> ResNet-18 (and 2048 -> 512 input channels), small banks."""
    def visit(node):
        if isinstance(node, dict):
            if node.get('type') == 'ResNet' and node.get('depth') == 50:
                node['depth'] = 18
            # backbone-facing layers only: a predictor (with_avg_pool=False,
            # e.g. SimSiam's 2048 -> 512 -> 2048) keeps the projection's width
            if node.get('in_channels') == 2048 and node.get(
                    'with_avg_pool', True):
                node['in_channels'] = 512
            if node.get('type') == 'FeatureBank':
                node['size'] = 64
            for v in node.values():
                visit(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)
    visit(model_cfg)
    aug = model_cfg.get('head', {}).get('augmenter')
    if isinstance(aug, dict) and aug.get('type') in ('NearestNeighborFA',
                                                     'MixupNoiseFA'):
        aug.setdefault('bank', dict(type='FeatureBank', size=64, dim=256))
    return model_cfg


def _build(cfg):
    for module in cfg.get('custom_imports', {}).get('imports', []):
        importlib.import_module(module)
    scope = cfg.get('default_scope', 'mmfa')
    importlib.import_module(f'{scope}.utils').register_all_modules(False)
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(ConfigDict(_shrink(cfg.model.to_dict())))


def test_configs_are_found():
    assert len(SELFSUP) >= 100, len(SELFSUP)


@pytest.mark.parametrize('path', CONFIGS, ids=_rel)
def test_config_loads_and_model_builds(path):
    cfg = Config.fromfile(path)
    assert 'model' in cfg, f'{_rel(path)} has no model'
    model = _build(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0
    if path in SELFSUP:
        assert cfg.default_scope == 'mmfa'
        assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
        hooks = [h['type'] for h in cfg.custom_hooks]
        assert 'FeatureBankHook' in hooks and 'PreemptionCheckpointHook' in hooks
        # A training step of the shrunk model on two tiny views.
        MessageHub.get_current_instance().update_info('max_iters', 10)
        MessageHub.get_current_instance().update_info('iter', 0)
        model = revert_sync_batchnorm(model).train()
        x = [torch.randn(4, 3, 32, 32) for _ in range(2)]
        loss = model.loss(x, None)['loss']
        assert torch.isfinite(loss)
        loss.backward()


@pytest.mark.parametrize('pipeline', [
    'byol_pipeline', 'symm_weak_pipeline', 'symm_strong_pipeline',
    'asymm_strong_pipeline'
])
def test_da_pipelines_make_two_views(pipeline, tmp_path):
    from mmcv.transforms import Compose
    from PIL import Image

    import mmfa.utils
    mmfa.utils.register_all_modules(False)
    from mmfa.registry import TRANSFORMS
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/imagenet1k_byol-aug.py'))
    img_path = str(tmp_path / 'x.png')
    Image.fromarray(np.random.default_rng(0).integers(
        0, 255, (64, 80, 3), dtype=np.uint8)).save(img_path)
    with DefaultScope.overwrite_default_scope('mmfa'):
        transforms = Compose([TRANSFORMS.build(t) for t in cfg[pipeline]])
        out = transforms(dict(img_path=img_path))
    assert len(out['inputs']) == 2
    assert all(tuple(v.shape) == (3, 224, 224) for v in out['inputs'])
    views = cfg[pipeline][1]['transforms']
    types = [[t['type'] for t in v] for v in views]
    blur = ['GaussianBlur' in t for t in types]
    solarize = ['Solarize' in t for t in types]
    expected = {
        'byol_pipeline': ([True, True], [False, True]),
        'symm_weak_pipeline': ([False, False], [False, False]),
        'symm_strong_pipeline': ([True, True], [True, True]),
        'asymm_strong_pipeline': ([True, False], [True, False]),
    }[pipeline]
    assert (blur, solarize) == expected


ROW = re.compile(r'^\| (?P<table>[IVX]+) \| (?P<row>[^|]+) \| (?P<fa>[^|]+) \| '
                 r'(?P<paper>[\d. /]+|—) \| \[(?P<cfg>[^\]]+)\]\(\./(?P<link>[^)]+)\)'
                 r' \| `bash tools/dist_train.sh (?P<launch>\S+) 8` \|$')
# configs outside the paper's tables (rendered from the metafile, may lack numbers)
OTHER = re.compile(r'^\| \[(?P<cfg>[^\]]+)\]\(\./(?P<link>[^)]+)\) \| [^|]+ \| '
                   r'`bash tools/dist_train.sh (?P<launch>\S+) 8` \|$')


@pytest.mark.parametrize('folder', ['fa_id', 'fa_byol'])
def test_readme_tables_match_the_files(folder):
    cfg_dir = osp.join(ROOT, 'configs', 'selfsup', folder)
    with open(osp.join(cfg_dir, 'README.md')) as f:
        text = f.read().splitlines()
    lines = [line for line in text if re.match(r'^\| [IVX]+ \|', line)]
    assert lines
    cells, referenced = set(), set()
    for line in lines:
        m = ROW.match(line)
        assert m, f'unparsable README row: {line}'
        assert m['cfg'] == m['link']
        assert m['launch'] == f'configs/selfsup/{folder}/{m["cfg"]}'
        assert osp.isfile(osp.join(cfg_dir, m['cfg'])), m['cfg']
        if m['paper'] != '—':  # a cell without a reported number is allowed
            assert all(0 < float(v) < 100 for v in m['paper'].split(' / '))
        cell = (m['table'], m['row'].strip(), m['fa'].strip())
        assert cell not in cells, f'duplicate table cell {cell}'
        cells.add(cell)
        referenced.add(m['cfg'])
    for line in text:
        m = OTHER.match(line)
        if m:
            assert m['cfg'] == m['link'] and osp.isfile(
                osp.join(cfg_dir, m['cfg']))
            referenced.add(m['cfg'])
    on_disk = {osp.basename(p) for p in glob.glob(osp.join(cfg_dir, '*.py'))}
    assert on_disk == referenced, on_disk ^ referenced


def _metafile_table(table):
    """{(row, FA): reported top-1} of one paper table, read from the metafiles."""
    import yaml
    cells = {}
    for path in glob.glob(osp.join(ROOT, 'configs', '**', 'metafile.yml'),
                          recursive=True):
        with open(path) as f:
            models = yaml.safe_load(f).get('Models') or []
        for model in models:
            for text in (model.get('Metadata') or {}).get('Paper tables', []):
                m = re.match(r'^Table ([IVX]+): (.+) / (.+)$', text)
                if m and m.group(1) == table:
                    reported = [
                        r['Metrics']['Top 1 Accuracy']
                        for r in model.get('Results') or []
                        if r['Task'].startswith('Linear probe (reported')
                    ]
                    cells[(m.group(2), m.group(3))] = reported[0]
    return cells


def test_readme_numbers_are_the_metafiles():
    """Table I of the README equals the metafiles' Table I, cell by cell."""
    table1 = _metafile_table('I')
    assert len(table1) == 30
    with open(osp.join(ROOT, 'configs/selfsup/fa_id/README.md')) as f:
        rows = [ROW.match(line) for line in f.read().splitlines()]
    checked = 0
    for m in filter(None, rows):
        if m['table'] == 'I':
            key = (m['row'].strip(), m['fa'].strip())
            assert float(m['paper']) == table1[key], m.group(0)
            checked += 1
    assert checked == 30
