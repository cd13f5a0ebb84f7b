# Copyright (c) mmfa contributors. All rights reserved.
from mmfa.utils.collect_env import check_env, collect_env
from tests.utils import run_tool


def test_collect_env_cli_reports_the_stack():
    proc = run_tool(['-m', 'mmfa.utils.collect_env', '--check'])
    out = proc.stdout
    for key in ('PyTorch: 2.14.1', 'MMEngine: 0.10.7', 'MMCV: 2.1.0',
                'MMPretrain: 1.2.0', 'MMDetection: 3.3.0',
                'MMCV ops: compiled', 'stack check: OK'):
        assert key in out, out


def test_check_env_refuses_numpy2_and_setuptools82():
    env = collect_env()
    assert check_env(env) == []
    env.update({'NumPy': '2.1.0', 'setuptools': '82.0.1'})
    problems = check_env(env)
    assert len(problems) == 2
    assert 'numpy<2' in problems[0] and 'tools/install.sh' in problems[0]
    assert 'pkg_resources' in problems[1]


def test_amp_optim_wrapper_picks_bf16_or_loss_scaling(monkeypatch):
    import torch

    from mmfa.utils.amp import amp_optim_wrapper
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: True)
    cfg = amp_optim_wrapper(dict(type='OptimWrapper', optimizer=dict()))
    assert cfg['type'] == 'AmpOptimWrapper' and cfg['dtype'] == 'bfloat16'
    assert 'loss_scale' not in cfg
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda: False)
    cfg = amp_optim_wrapper(dict(type='OptimWrapper', optimizer=dict()))
    assert cfg['loss_scale'] == 'dynamic' and 'dtype' not in cfg
