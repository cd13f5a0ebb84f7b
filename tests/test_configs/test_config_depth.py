# Copyright (c) mmfa contributors. All rights reserved.
"""Config inheritance stays shallow: a config is at most three files above
``configs/_base_/`` (itself and at most two intermediate files), paper leaves
inherit at most their setting's baseline (never a chain of leaves), and a paper
config carries only its own data-augmentation pipeline."""
import ast
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from tests.utils import ROOT

CONFIGS = osp.join(ROOT, 'configs')
TOP_BASE = osp.join(CONFIGS, '_base_') + osp.sep
PAPER = ('fa_id', 'fa_byol')
MAX_LEVELS = 3


def _local_bases(path):
    """The local files of ``path``'s ``_base_`` (``pkg::`` bases are external)."""
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, 'id', None) == '_base_' for t in node.targets):
            bases = ast.literal_eval(node.value)
            bases = [bases] if isinstance(bases, str) else bases
            return [
                osp.normpath(osp.join(osp.dirname(path), b)) for b in bases
                if '::' not in b
            ]
    return []


def _levels(path):
    """Files on the longest inheritance path from ``path`` down to
    ``configs/_base_/`` (or an external base), ``path`` included."""
    if path.startswith(TOP_BASE):
        return 0
    return 1 + max([_levels(b) for b in _local_bases(path)], default=0)


def _configs():
    return sorted(
        p for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
        if not p.startswith(TOP_BASE))


def test_every_config_is_at_most_three_levels_above_base():
    too_deep = {
        osp.relpath(p, ROOT): _levels(p)
        for p in _configs() if _levels(p) > MAX_LEVELS
    }
    assert not too_deep, (
        f'configs more than {MAX_LEVELS} files above configs/_base_/ '
        f'(inherit a base or a baseline instead): {too_deep}')
    # the measure counts what it should: a baseline leaf is one level, its FA
    # leaf two
    leaf = osp.join(CONFIGS, 'selfsup', 'fa_id',
                    'post-predictor-nn-nostopgrad_resnet50_8xb64-accum8-'
                    'coslr-200e_in100.py')
    assert _levels(leaf) == 2
    assert _levels(_local_bases(leaf)[0]) == 1


@pytest.mark.parametrize('folder', PAPER)
def test_paper_leaves_inherit_bases_or_one_baseline(folder):
    for path in glob.glob(osp.join(CONFIGS, 'selfsup', folder, '*.py')):
        name = osp.relpath(path, ROOT)
        lines = [line for line in open(path) if line.strip()]
        assert 2 <= len(lines) <= 7, f'{name}: {len(lines)} lines'
        for base in _local_bases(path):
            if base.startswith(TOP_BASE):
                continue
            # a baseline leaf of the same folder, built on configs/_base_ only
            assert osp.dirname(base) == osp.dirname(path), name
            assert all(
                b.startswith(TOP_BASE) for b in _local_bases(base)), (
                    f'{name} inherits {osp.basename(base)}, which inherits '
                    'another leaf')


@pytest.mark.parametrize('leaf,pipeline', [
    ('fa_id/parallel-predictor-nn_resnet50_8xb64-accum8-coslr-200e_in100.py',
     'byol_pipeline'),
    ('fa_id/parallel-predictor-mask_resnet50_8xb64-accum8-coslr-200e_'
     'in100-symmweak.py', 'symm_weak_pipeline'),
    ('fa_id/parallel-predictor_resnet50_8xb64-accum8-coslr-200e_'
     'in100-symmstrong.py', 'symm_strong_pipeline'),
    ('fa_id/parallel-predictor-nn-noise_resnet50_8xb64-accum8-coslr-200e_'
     'in100-asymmstrong.py', 'asymm_strong_pipeline'),
    ('fa_byol/fa-byol-mask-k4-free_resnet50_8xb64-coslr-100e_in1k.py',
     'byol_pipeline'),
])
def test_paper_config_carries_only_its_own_pipeline(leaf, pipeline):
    cfg = Config.fromfile(osp.join(CONFIGS, 'selfsup', leaf))
    assert not [k for k in cfg if k.endswith('_pipeline')]
    # the setting's pipeline is the one imagenet1k_byol-aug.py names
    catalog = Config.fromfile(
        osp.join(CONFIGS, '_base_', 'datasets', 'imagenet1k_byol-aug.py'))
    assert cfg.train_dataloader.dataset.pipeline == catalog[pipeline]
    assert cfg.pretty_text.count("type='MultiView'") == 1
