# Copyright (c) mmfa contributors. All rights reserved.
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

from tests.test_benchmarks.data_utils import make_pretrain_checkpoint

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LAUNCHERS = {
    'mmpretrain/dist_linear_eval.sh': 3,
    'mmpretrain/slurm_linear_eval.sh': 4,
    'mmdet/dist_voc0712.sh': 3,
    'mmdet/slurm_voc0712.sh': 4,
}


def _run(args, env=None, timeout=300):
    full_env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    full_env.update(env or {})
    return subprocess.run(['bash'] + args,
                          cwd=ROOT,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)


@pytest.mark.parametrize('launcher,num_args', LAUNCHERS.items())
def test_launchers_check_their_arguments(tmp_path, launcher, num_args):
    path = osp.join(ROOT, 'tools', 'benchmarks', launcher)
    proc = _run([path])
    assert proc.returncode == 2 and 'usage' in proc.stderr
    missing = str(tmp_path / 'missing.pth')
    args = (['p', 'j', 'cfg.py', missing]
            if num_args == 4 else ['cfg.py', missing, '1'])
    proc = _run([path] + args)
    assert proc.returncode == 2
    assert 'checkpoint not found' in proc.stderr


def test_dist_linear_eval_runs_one_cpu_process(tmp_path, imagenet_root):
    ckpt = str(tmp_path / 'pretrain.pth')
    make_pretrain_checkpoint(ckpt, depth=18)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    config = osp.join(ROOT, 'configs', 'benchmarks', 'mmpretrain',
                      'fa-id_resnet50_linear-8xb32-steplr-60e_in100.py')
    options = [
        'model.backbone.depth=18', 'model.head.in_channels=512',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'
    ]
    for loader in ('train', 'val', 'test'):
        options += [
            f'{loader}_dataloader.dataset.data_root={imagenet_root}',
            f'{loader}_dataloader.num_workers=0',
            f'{loader}_dataloader.persistent_workers=False',
            f'{loader}_dataloader.batch_size=2'
        ]
    options += [
        'train_dataloader.dataset.pipeline.1.scale=32',
        'val_dataloader.dataset.pipeline.1.scale=36',
        'val_dataloader.dataset.pipeline.2.crop_size=32'
    ]
    proc = _run([
        osp.join(ROOT, 'tools', 'benchmarks', 'mmpretrain',
                 'dist_linear_eval.sh'), config, ckpt, '1', '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *options
    ],
                env={'PORT': str(port)})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Loaded 120/120 entries of ResNet' in log
    assert 'accuracy/top1' in log
