# Copyright (c) mmfa contributors. All rights reserved.
"""tools/dist_*.sh and tools/slurm_*.sh: argument composition (with a recording
python / srun first on PATH), a real 2-process torchrun run on CPU (gloo) that is
preempted and resumed, and a real --launcher slurm run through a fake srun."""
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

import mmfa  # noqa: F401  (fixes mmengine checkpoint loading on this torch)
from mmfa.engine.hooks import PreemptionCheckpointHook
from tests.utils import ROOT, make_image_folder

CONFIG = osp.join(ROOT, 'tests/data/tiny_fa_pretrain.py')
LAUNCH_VARS = ('NNODES', 'NODE_RANK', 'MASTER_ADDR', 'PORT', 'MASTER_PORT',
               'GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS', 'GRES',
               'PET_SIGNALS_TO_HANDLE', 'PYTHON')
ITER_RE = re.compile(r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\]')

FAKE_PYTHON = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$RECORD"
printf 'PYTHONPATH=%s\\nPET_SIGNALS_TO_HANDLE=%s\\n' "$PYTHONPATH" \\
    "$PET_SIGNALS_TO_HANDLE" > "$RECORD.env"
"""

# Records its arguments; with FAKE_SRUN_RUN=1 it then runs the command once as
# the only task of a one-node job.
FAKE_SRUN = """#!/usr/bin/env bash
printf '%s\\n' "$@" > "$RECORD"
[ "${FAKE_SRUN_RUN:-0}" = 1 ] || exit 0
while [ $# -gt 0 ]; do
    case "$1" in
        -p) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
SLURM_PROCID=0 SLURM_NTASKS=1 SLURM_NODELIST=localhost SLURM_LOCALID=0 \\
    MASTER_ADDR=127.0.0.1 exec "$@"
"""


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    env.update(OMP_NUM_THREADS='1', RECORD=str(tmp_path / 'record.txt'))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _write_exe(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def _run(script, args, env):
    return subprocess.run(['bash', osp.join(ROOT, 'tools', script), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def _recorded(tmp_path):
    with open(tmp_path / 'record.txt') as f:
        return f.read().splitlines()


def _logged_iters(text):
    return [(int(e) - 1) * int(n) + int(k) for e, k, n in ITER_RE.findall(text)]


# ------------------------------------------------------------ composition
@pytest.mark.parametrize('launch_env,expected', [
    ({}, ['--nnodes=1', '--node_rank=0', '--master_addr=127.0.0.1',
          '--master_port=29500']),
    (dict(NNODES=2, NODE_RANK=1, MASTER_ADDR='10.1.2.3', PORT=12345),
     ['--nnodes=2', '--node_rank=1', '--master_addr=10.1.2.3',
      '--master_port=12345']),
])
def test_dist_train_composes_torchrun(tmp_path, launch_env, expected):
    python = _write_exe(tmp_path / 'python', FAKE_PYTHON)
    env = _env(tmp_path, PYTHON=python, PYTHONPATH='/elsewhere', **launch_env)
    proc = _run('dist_train.sh',
                ['cfg.py', '4', '--work-dir', '/tmp/a b', '--resume',
                 '--cfg-options', 'train_cfg.max_epochs=3'], env)
    assert proc.returncode == 0, proc.stderr
    # torchrun through tools/misc/torchrun.py, which exits with the ranks'
    # preemption code (75) where torchrun alone exits with 1
    assert _recorded(tmp_path) == [
        osp.join(ROOT, 'tools/misc/torchrun.py'), *expected,
        '--nproc_per_node=4',
        osp.join(ROOT, 'tools/train.py'), 'cfg.py', '--launcher', 'pytorch',
        '--work-dir', '/tmp/a b', '--resume', '--cfg-options',
        'train_cfg.max_epochs=3'
    ]
    with open(str(tmp_path / 'record.txt.env')) as f:
        recorded_env = f.read().splitlines()
    assert recorded_env == [
        f'PYTHONPATH={ROOT}:/elsewhere',
        'PET_SIGNALS_TO_HANDLE=SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1'
    ]


def test_dist_test_composes_torchrun(tmp_path):
    python = _write_exe(tmp_path / 'python', FAKE_PYTHON)
    env = _env(tmp_path, PYTHON=python, PORT=29123)
    proc = _run('dist_test.sh',
                ['cfg.py', 'ckpt.pth', '2', '--out', 'r.pkl'], env)
    assert proc.returncode == 0, proc.stderr
    assert _recorded(tmp_path) == [
        '-m', 'torch.distributed.run', '--nnodes=1', '--node_rank=0',
        '--master_addr=127.0.0.1', '--master_port=29123',
        '--nproc_per_node=2',
        osp.join(ROOT, 'tools/test.py'), 'cfg.py', 'ckpt.pth', '--launcher',
        'pytorch', '--out', 'r.pkl'
    ]


@pytest.mark.parametrize('script,args,message', [
    ('dist_train.sh', ['cfg.py'], 'usage:'),
    ('dist_train.sh', ['cfg.py', 'two'], "GPUS (processes per node) must be "
     "a positive integer, got 'two'"),
    ('dist_test.sh', ['cfg.py', 'ckpt.pth', '0'], 'must be a positive'),
    ('slurm_train.sh', ['part', 'job'], 'usage:'),
    ('slurm_test.sh', ['part', 'job', 'cfg.py'], 'usage:'),
])
def test_bad_launcher_arguments(tmp_path, script, args, message):
    proc = _run(script, args, _env(tmp_path))
    assert proc.returncode == 2
    assert message in proc.stderr


def _srun_env(tmp_path, **extra):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    _write_exe(bin_dir / 'srun', FAKE_SRUN)
    env = _env(tmp_path, PYTHON=sys.executable, **extra)
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    return env


def _srun_head(gres, ntasks, per_node, cpus):
    head = ['-p', 'part', '--job-name=job']
    head += [f'--gres={gres}'] if gres else []
    return head + [
        f'--ntasks={ntasks}', f'--ntasks-per-node={per_node}',
        f'--cpus-per-task={cpus}', '--kill-on-bad-exit=1'
    ]


@pytest.mark.parametrize('launch_env,args,expected_head,expected_tail', [
    (dict(GPUS=16, CPUS_PER_TASK=3, SRUN_ARGS='--signal=USR1@180 --time=1:0:0'),
     ['wd', '--resume', '--cfg-options', 'a=1'],
     _srun_head('gpu:8', 16, 8, 3) + ['--signal=USR1@180', '--time=1:0:0'],
     ['--work-dir=wd', '--launcher=slurm', '--resume', '--cfg-options', 'a=1']),
    ({}, ['--amp'], _srun_head('gpu:8', 8, 8, 5),
     ['--launcher=slurm', '--amp']),  # no WORK_DIR
    (dict(GPUS=2), [], _srun_head('gpu:2', 2, 2, 5), ['--launcher=slurm']),
    (dict(GPUS=4, GRES=''), ['wd'], _srun_head(None, 4, 4, 5),
     ['--work-dir=wd', '--launcher=slurm']),
])
def test_slurm_train_composes_srun(tmp_path, launch_env, args, expected_head,
                                   expected_tail):
    proc = _run('slurm_train.sh', ['part', 'job', 'cfg.py', *args],
                _srun_env(tmp_path, **launch_env))
    assert proc.returncode == 0, proc.stderr
    assert _recorded(tmp_path) == expected_head + [
        sys.executable, '-u', osp.join(ROOT, 'tools/train.py'), 'cfg.py'
    ] + expected_tail


def test_slurm_test_composes_srun(tmp_path):
    proc = _run('slurm_test.sh',
                ['part', 'job', 'cfg.py', 'ckpt.pth', '--out', 'r.pkl'],
                _srun_env(tmp_path, SRUN_ARGS='--exclusive'))
    assert proc.returncode == 0, proc.stderr
    assert _recorded(tmp_path) == _srun_head('gpu:8', 8, 8, 5) + [
        '--exclusive', sys.executable, '-u',
        osp.join(ROOT, 'tools/test.py'), 'cfg.py', 'ckpt.pth',
        '--launcher=slurm', '--out', 'r.pkl'
    ]


# ------------------------------------------------------------- real runs
def test_slurm_train_runs_with_the_slurm_launcher(tmp_path):
    data = make_image_folder(str(tmp_path / 'data'), num_images=16)
    work = str(tmp_path / 'work')
    proc = _run('slurm_train.sh', [
        'part', 'job', CONFIG, work, '--cfg-options',
        f'train_dataloader.dataset.data_root={data}', 'train_cfg.max_epochs=1'
    ], _srun_env(tmp_path, GPUS=1, FAKE_SRUN_RUN=1, MASTER_PORT=_free_port()))
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert _recorded(tmp_path)[:3] == ['-p', 'part', '--job-name=job']
    ckpt = torch.load(osp.join(work, 'epoch_1.pth'), weights_only=False)
    # 16 images / batch 4 in one task; the extra args reached the config
    assert (ckpt['meta']['epoch'], ckpt['meta']['iter']) == (1, 4)
    assert "launcher = 'slurm'" in ckpt['meta']['cfg']
    assert _logged_iters(proc.stdout) == [1, 2, 3, 4]


def _start(args, env, log):
    with open(log, 'w') as f:
        return subprocess.Popen(
            ['bash', osp.join(ROOT, 'tools/dist_train.sh'), *args],
            cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
            start_new_session=True)


def _stop(proc):
    """Clean-up after a failed assertion: SIGTERM lets torchrun stop its workers
    (they run in sessions of their own), SIGKILL if it does not end."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_dist_train_two_processes_preempted_and_resumed(tmp_path):
    """torchrun with 2 gloo ranks, each with a persistent data-loader worker:
    SIGTERM to the launcher's process group reaches both ranks (torchrun
    forwards it to each rank's session, workers included), which checkpoint the
    same iteration; the launcher exits with 75; --resume (auto) continues from
    that iteration with the feature bank bit-exact."""
    data = make_image_folder(str(tmp_path / 'data'), num_images=16)
    work = str(tmp_path / 'work')
    epoch_len = 2  # 16 images / 2 ranks / batch 4
    cfg = tmp_path / 'probe_cfg.py'
    cfg.write_text(
        f"_base_ = {CONFIG!r}\n"
        "custom_imports = dict(imports=['resume_probe_hook'], "
        "allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='FeatureBankHook'), "
        "dict(type='PreemptionCheckpointHook'), dict(type='ResumeProbeHook')]\n")
    common = [str(cfg), '2', '--work-dir', work, '--cfg-options',
              f'train_dataloader.dataset.data_root={data}',
              'train_dataloader.num_workers=1',
              'train_dataloader.persistent_workers=True']
    probe_path = osp.join(ROOT, 'tests/test_engine')

    log1 = str(tmp_path / 'run1.txt')
    proc = _start(common + ['train_cfg.max_epochs=1000'],
                  _env(tmp_path, PYTHON=sys.executable, PORT=_free_port(),
                       PYTHONPATH=probe_path),
                  log1)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # poll the log for iteration 3
            with open(log1) as f:
                text = f.read()
            if (max(_logged_iters(text), default=0) >= 3
                    or proc.poll() is not None):
                break
            time.sleep(0.1)
        assert proc.poll() is None, text[-4000:]
        os.killpg(proc.pid, signal.SIGTERM)  # the script exec'd torchrun
        rc = proc.wait(timeout=120)
    finally:
        _stop(proc)
    with open(log1) as f:
        text1 = f.read()
    assert rc == PreemptionCheckpointHook.DEFAULT_EXIT_CODE, text1[-4000:]
    assert 'killed by signal' not in text1
    with open(osp.join(work, 'last_checkpoint')) as f:
        ckpt_path = f.read()
    n = int(re.fullmatch(r'.*/iter_(\d+)\.pth', ckpt_path).group(1))
    code = PreemptionCheckpointHook.DEFAULT_EXIT_CODE
    message = (f'PreemptionCheckpointHook: SIGTERM received; saved the state '
               f'after iteration {n} ')
    assert message in text1 and f'[rank 1] {message}' in text1
    assert f'exiting with code {code}' in text1
    assert _logged_iters(text1) == list(range(1, n + 1))
    ckpt = torch.load(ckpt_path, weights_only=False)
    epoch = (n - 1) // epoch_len
    assert (ckpt['meta']['epoch'], ckpt['meta']['iter']) == (epoch, n)
    assert "launcher = 'pytorch'" in ckpt['meta']['cfg']
    assert 'max_epochs=1000' in ckpt['meta']['cfg']  # --cfg-options arrived

    max_epochs = epoch + 2
    log2 = str(tmp_path / 'run2.txt')
    proc = _start(common + [f'train_cfg.max_epochs={max_epochs}', '--resume'],
                  _env(tmp_path, PYTHON=sys.executable, PORT=_free_port(),
                       PYTHONPATH=probe_path),
                  log2)
    try:
        rc = proc.wait(timeout=300)
    finally:
        _stop(proc)
    with open(log2) as f:
        text2 = f.read()
    assert rc == 0, text2[-4000:]
    assert f'Auto resumed from the latest checkpoint {ckpt_path}' in text2
    assert f'resumed epoch: {epoch}, iter: {n}' in text2
    total = max_epochs * epoch_len
    assert _logged_iters(text2) == list(range(n + 1, total + 1))
    # the resumed run started from the saved state, feature bank bit-exact
    probe = torch.load(osp.join(work, 'resume_probe.pth'), weights_only=False)
    assert (probe['epoch'], probe['iter']) == (epoch, n)
    for key, value in ckpt['state_dict'].items():
        assert torch.equal(probe['state_dict'][key], value), key
    assert any(k.endswith('bank.feats') for k in ckpt['state_dict'])
    final = torch.load(osp.join(work, f'epoch_{max_epochs}.pth'),
                       weights_only=False)
    assert (final['meta']['epoch'], final['meta']['iter']) == (max_epochs,
                                                               total)
