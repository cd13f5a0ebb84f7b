# Copyright (c) mmfa contributors. All rights reserved.
"""mim support: configs and tools ship inside the package (mmfa/.mim), so
``mim train mmfa`` and ``mim run mmpretrain <tool>`` work on mmfa configs."""
import json
import math
import os
import os.path as osp
import subprocess
import sys
import zipfile

import pytest

from tests.test_packaging.packaging_utils import (PLUGIN_CONFIG,
                                                  write_tiny_plugin_config)
from tests.utils import ROOT, make_image_folder

pytest.importorskip('mim', reason='openmim (requirements/tests.txt)')


def _mim(args, cwd, site, timeout=300):
    """``python -m mim ARGS`` with the installed wheel ``site`` first on the path
    (and not the checkout), as in an environment where mmfa was pip-installed."""
    env = dict(os.environ, PYTHONPATH=site, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-m', 'mim'] + list(args),
                          cwd=str(cwd),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc.stdout + proc.stderr


def _repo_files(folder, suffixes):
    files = set()
    for root, dirs, names in os.walk(osp.join(ROOT, folder)):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        for name in names:
            if name.endswith(suffixes):
                files.add(osp.relpath(osp.join(root, name), ROOT))
    return files


def test_wheel_ships_configs_tools_and_model_index(mmfa_wheel):
    with zipfile.ZipFile(mmfa_wheel) as whl:
        shipped = {
            n[len('mmfa/.mim/'):]
            for n in whl.namelist() if n.startswith('mmfa/.mim/')
        }
    expected = (_repo_files('configs', ('.py', '.md', '.txt', '.yml'))
                | _repo_files('tools', ('.py', '.sh')) | {'model-index.yml'})
    assert expected <= shipped, sorted(expected - shipped)[:10]
    assert PLUGIN_CONFIG in shipped and 'tools/train.py' in shipped
    assert not any('__pycache__' in n for n in shipped)


def test_mim_train_mmfa_runs_the_packaged_train_tool(installed_mmfa,
                                                     tmp_path):
    data = make_image_folder(str(tmp_path / 'data'), num_images=8)
    # The packaged copy of the plugin config, shrunk for a CPU.
    base = osp.join(installed_mmfa, 'mmfa', '.mim', PLUGIN_CONFIG)
    cfg = write_tiny_plugin_config(tmp_path / 'tiny.py', base, data)
    work = tmp_path / 'work'
    out = _mim(['train', 'mmfa', cfg, '--work-dir', str(work)], tmp_path,
               installed_mmfa)
    train_tool = osp.join(installed_mmfa, 'mmfa', '.mim', 'tools', 'train.py')
    assert f'{train_tool} {cfg} --launcher none' in out
    assert (work / 'epoch_1.pth').is_file()
    scalars = [
        json.loads(line) for line in open(
            next(work.glob('*/vis_data/scalars.json')))
    ]
    # 8 images, batch 4: two LARS steps with the FA head's losses.
    assert [s['iter'] for s in scalars] == [1, 2]
    assert all(math.isfinite(s['loss']) and 'nce_fa' in s for s in scalars)


def test_mim_run_mmpretrain_print_config_on_an_mmfa_config(
        installed_mmfa, tmp_path):
    cfg = osp.join(installed_mmfa, 'mmfa', '.mim', PLUGIN_CONFIG)
    out = _mim(['run', 'mmpretrain', 'print_config', cfg], tmp_path,
               installed_mmfa)
    # mmfa's overrides merged into mmpretrain's own SimCLR config.
    assert "type='mmfa.BasicFA'" in out
    assert "type='NearestNeighborFA'" in out
    assert "type='LARS'" in out and 'lr=4.8' in out
    assert "type='mmfa.FeatureBankHook'" in out


@pytest.mark.parametrize('config', [
    PLUGIN_CONFIG,
    # a paper config: mmfa type names without a scope prefix; the model base's
    # _scope_='mmfa' lets mmpretrain's get_model find them
    'configs/selfsup/fa_id/parallel-predictor-nn_resnet50_8xb64-accum8-'
    'coslr-200e_in100.py',
])
def test_mim_run_mmpretrain_get_flops_on_an_mmfa_config(
        config, installed_mmfa, tmp_path):
    import mmfa  # noqa: F401
    from mmengine.config import Config
    from mmpretrain import get_model

    cfg = osp.join(installed_mmfa, 'mmfa', '.mim', config)
    out = _mim(['run', 'mmpretrain', 'get_flops', cfg, '--shape', '32'],
               tmp_path, installed_mmfa)
    # The parameter count of the FA model, counted here independently.
    model = get_model(Config.fromfile(osp.join(ROOT, config)))
    params = sum(p.numel() for p in model.parameters())
    assert f'Params: {params / 1e6:.3f}M' in out
    assert 'Input shape: (3, 32, 32)' in out
