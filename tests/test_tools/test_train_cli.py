# Copyright (c) mmfa contributors. All rights reserved.
"""tools/train.py and tools/test.py fail with one clear message on bad input."""
import os.path as osp

from tests.utils import ROOT, run_tool


def test_missing_config_names_the_file():
    proc = run_tool(['tools/train.py', 'no_such.py'], check=False)
    assert proc.returncode != 0
    assert 'config file not found: no_such.py' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_unknown_type_names_registry_and_close_matches(tmp_path):
    cfg = tmp_path / 'bad_type.py'
    base = osp.join(ROOT, 'tests/data/tiny_simclr.py')
    cfg.write_text(f"_base_ = '{base}'\n"
                   "model = dict(neck=dict(type='NonLinearNek'))\n")
    proc = run_tool(['tools/train.py', str(cfg), '--work-dir',
                     str(tmp_path / 'w')], check=False)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "Unknown type 'NonLinearNek' in the model registry" in last
    assert 'Close matches: NonLinearNeck' in last
    assert str(cfg) in last
    assert 'Traceback' not in proc.stderr


def test_test_tool_missing_checkpoint_names_the_file(tmp_path):
    proc = run_tool(['tools/test.py', osp.join(ROOT, 'tests/data/tiny_simclr.py'),
                     str(tmp_path / 'missing.pth')], check=False)
    assert proc.returncode != 0
    assert 'checkpoint file not found' in proc.stderr
    assert 'missing.pth' in proc.stderr


def test_install_script_rejects_unknown_options():
    import subprocess
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools/install.sh'),
                           '--bogus'], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown option '--bogus'" in proc.stderr
    assert '--system' in proc.stderr
