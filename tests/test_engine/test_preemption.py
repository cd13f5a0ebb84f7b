# Copyright (c) mmfa contributors. All rights reserved.
"""PreemptionCheckpointHook: a signal becomes a checkpoint of the completed
iteration, the same decision on every rank, and an exact resume."""
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time
import uuid
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import EpochBasedTrainLoop, Runner

import mmfa  # noqa: F401  (fixes mmengine checkpoint loading on this torch)
import mmfa.engine.loops  # noqa: F401  (registers ResumableEpochBasedTrainLoop)
from mmfa.engine.hooks import PreemptionCheckpointHook
from tests.utils import ROOT, make_image_folder, vector_dataset
from tests.utils.dist import run_distributed
from tests.utils.log_capture import capture_current_log

EXIT_CODE = PreemptionCheckpointHook.DEFAULT_EXIT_CODE
HANDLED = (signal.SIGTERM, signal.SIGUSR1)


@pytest.fixture(autouse=True)
def guard():
    """Each test starts with a recording handler for SIGTERM / SIGUSR1 (a signal
    the hook failed to catch must not kill pytest; it is also the "previous"
    handler the hook chains to) and ends with the original handlers."""
    original = {s: signal.getsignal(s) for s in HANDLED}
    calls = []

    def handler(signum, frame):
        calls.append(signum)

    for s in HANDLED:
        signal.signal(s, handler)
    yield SimpleNamespace(calls=calls)
    for s, h in original.items():
        signal.signal(s, h)


# --------------------------------------------------------------------- unit
@pytest.mark.parametrize('kwargs,match', [
    (dict(signals=('SIGTREM', )), r"signal 'SIGTREM'.*Valid names: .*SIGTERM"),
    (dict(signals=('SIGKILL', )), "cannot handle the signal 'SIGKILL'"),
    (dict(signals=()), 'signals is empty'),
    (dict(exit_code=0), r'exit_code must be an int in \[1, 255\]'),
    (dict(exit_code=256), r'exit_code must be an int in \[1, 255\]'),
])
def test_bad_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PreemptionCheckpointHook(**kwargs)


def test_signal_names_and_numbers():
    hook = PreemptionCheckpointHook(signals=('SIGUSR1', int(signal.SIGTERM)))
    assert hook.signals == (signal.SIGUSR1, signal.SIGTERM)


def test_handlers_record_only_and_are_restored(guard):
    hook = PreemptionCheckpointHook()
    loop = object.__new__(EpochBasedTrainLoop)  # only its type matters here
    runner = SimpleNamespace(hooks=[hook], train_loop=loop)
    with capture_current_log() as log:
        hook.before_train(runner)
    assert any('use train_cfg = dict(type="ResumableEpochBasedTrainLoop"' in m
               for m in log)
    signal.raise_signal(signal.SIGUSR1)  # recorded by the hook, no exit
    assert guard.calls == []
    with capture_current_log() as log:
        hook.after_train(runner)  # nothing checked it: training was over
    assert any('SIGUSR1 arrived after the last training iteration' in m
               for m in log)
    signal.raise_signal(signal.SIGTERM)  # the previous handlers are back
    signal.raise_signal(signal.SIGUSR1)
    assert guard.calls == [signal.SIGTERM, signal.SIGUSR1]


def test_registered_twice_is_a_clear_error():
    a, b = PreemptionCheckpointHook(), PreemptionCheckpointHook()
    runner = SimpleNamespace(hooks=[a, b], train_loop=object())
    with pytest.raises(ValueError, match='registered more than once'):
        a.before_train(runner)


class _Model(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)
        self.forwards = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.forwards += 1
        return dict(loss=(self.fc(inputs)**2).mean())


class _RaiseAt(Hook):
    """Sends ``sig`` to this process at the start of iteration ``at``."""
    priority = 'VERY_HIGH'

    def __init__(self, at, sig):
        self.at, self.sig = at, sig

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            signal.raise_signal(self.sig)


class _RaiseInAfterTrain(Hook):
    priority = 'HIGHEST'  # before PreemptionCheckpointHook.after_train

    def after_train(self, runner):
        signal.raise_signal(signal.SIGTERM)


def _runner(work_dir, hooks, accumulative_counts=1):
    return Runner(
        model=_Model(),
        work_dir=str(work_dir),
        experiment_name=f'preempt-{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=vector_dataset(12, 2),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
            accumulative_counts=accumulative_counts),
        param_scheduler=dict(type='MultiStepLR', milestones=[1], by_epoch=True),
        train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=2),
        custom_hooks=hooks + [dict(type='PreemptionCheckpointHook')],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1)),
        default_scope='mmfa',
        randomness=dict(seed=0))


def _same(a, b):
    """Exact equality of nested checkpoint contents."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return (isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    return a == b


@pytest.mark.parametrize('accumulative_counts,saved_iter', [(1, 2), (3, 3)])
def test_checkpoint_of_the_completed_iteration(tmp_path, guard,
                                               accumulative_counts, saved_iter):
    # SIGUSR1 arrives during iteration 2 (index 1). Without accumulation that
    # iteration is checkpointed; with 3 accumulation steps the checkpoint waits
    # for the end of the cycle (iteration 3): gradients are not checkpointed.
    runner = _runner(tmp_path, [_RaiseAt(1, signal.SIGUSR1)],
                     accumulative_counts)
    with capture_current_log() as log, pytest.raises(SystemExit) as exc:
        runner.train()
    assert exc.value.code == EXIT_CODE
    assert runner.model.forwards == saved_iter  # nothing ran after it
    path = osp.join(str(tmp_path), f'iter_{saved_iter}.pth')
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read() == path
    ckpt = torch.load(path, weights_only=False)
    assert ckpt['meta']['iter'] == saved_iter
    assert ckpt['meta']['epoch'] == 0  # the epoch in progress (6 iterations)
    assert ckpt['meta']['preempted_by'] == 'SIGUSR1'
    # the state after the completed iteration, optimizer and schedulers included
    assert _same(ckpt['state_dict'], runner.model.state_dict())
    assert _same(ckpt['optimizer'], runner.optim_wrapper.state_dict())
    assert ckpt['optimizer']['state']  # momentum buffers exist
    assert 'param_schedulers' in ckpt
    waited = any('end of the current gradient-accumulation cycle' in m
                 for m in log)
    assert waited == (accumulative_counts > 1)
    assert any(f'SIGUSR1 received; saved the state after iteration '
               f'{saved_iter} (epoch 1) to {path}' in m for m in log)
    # the previous Python handler ran once, after the checkpoint
    assert guard.calls == [signal.SIGUSR1]
    # while exiting, further signals are ignored (every rank exits alike)
    signal.raise_signal(signal.SIGTERM)
    assert guard.calls == [signal.SIGUSR1]


def test_no_signal_no_checkpoint_and_handlers_restored(tmp_path, guard):
    runner = _runner(tmp_path, [_RaiseInAfterTrain()])
    with capture_current_log() as log:
        runner.train()  # completes: 2 epochs
    assert runner.iter == 12
    assert not [f for f in os.listdir(tmp_path) if f.startswith('iter_')]
    assert any('SIGTERM arrived after the last training iteration' in m
               for m in log)
    assert guard.calls == []
    signal.raise_signal(signal.SIGTERM)
    assert guard.calls == [signal.SIGTERM]


# ------------------------------------------------------------- two ranks
def _two_rank_worker(rank, world_size, work_dir):
    hook = PreemptionCheckpointHook()
    saves = []

    def save_checkpoint(out_dir, filename, **kwargs):
        saves.append((out_dir, filename, kwargs['by_epoch']))

    runner = SimpleNamespace(
        iter=4,
        epoch=1,
        work_dir=work_dir,
        hooks=[hook],
        train_loop=object(),
        optim_wrapper=SimpleNamespace(should_update=lambda: True),
        message_hub=MessageHub.get_instance(f'r{rank}-{uuid.uuid4().hex}'),
        save_checkpoint=save_checkpoint)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)  # nobody signalled: both go on
    if rank == 1:
        signal.raise_signal(signal.SIGTERM)  # only rank 1 is signalled
    runner.iter = 5
    code = None
    try:
        hook.after_train_iter(runner, 1)
    except SystemExit as e:
        code = e.code
    return dict(code=code, saves=saves)


def test_one_signalled_rank_stops_every_rank(tmp_path):
    work_dir = str(tmp_path / 'w')
    os.makedirs(work_dir)
    results = run_distributed(_two_rank_worker, tmp_path, work_dir=work_dir)
    # both ranks stop after the same iteration, with the same code, and save
    # (Runner.save_checkpoint is master_only: only rank 0 writes the file)
    for r in results:
        assert r['code'] == EXIT_CODE
        assert r['saves'] == [(work_dir, 'iter_6.pth', False)]
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read() == osp.join(work_dir, 'iter_6.pth')


# ------------------------------------------------- end to end, tools/train.py
ITER_RE = re.compile(r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\]')
EPOCH_LEN = 4  # 16 images, batch 4, one process
BANK = 64


def _logged_iters(text):
    return [(int(e) - 1) * int(n) + int(k) for e, k, n in ITER_RE.findall(text)]


def _wait_for_log(path, proc, predicate, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            text = f.read()
        if predicate(text):
            return text
        if proc.poll() is not None:
            raise AssertionError(f'exited early ({proc.returncode}):\n'
                                 f'{text[-4000:]}')
        time.sleep(0.1)  # polling the log, not synchronisation
    proc.kill()
    proc.wait()
    raise AssertionError(f'timed out waiting for the log: {path}')


def _bank(state_dict):
    prefix = next(k for k in state_dict if k.endswith('bank.ptr'))[:-3]
    return {k: state_dict[prefix + k] for k in ('feats', 'ptr', 'num_written')}


def test_sigterm_then_resume_continues_exactly(tmp_path):
    """SIGTERM to the process group of a run with a persistent data-loader
    worker: checkpoint of the current iteration, exit 75, exact resume."""
    data = make_image_folder(str(tmp_path / 'data'), num_images=16)
    cfg = tmp_path / 'probe_cfg.py'
    cfg.write_text(
        f"_base_ = {osp.join(ROOT, 'tests/data/tiny_fa_pretrain.py')!r}\n"
        "custom_imports = dict(imports=['resume_probe_hook'], "
        "allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='FeatureBankHook'), "
        "dict(type='PreemptionCheckpointHook'), dict(type='ResumeProbeHook')]\n")
    work = str(tmp_path / 'work')
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join([ROOT, osp.join(ROOT, 'tests/test_engine')]))

    def train(*extra, log):
        # A data-loading worker, persistent, as in the paper configs
        # (num_workers=8); its own session, so that the test can signal the
        # whole process group as slurm and torchrun do.
        return subprocess.Popen(
            [sys.executable, 'tools/train.py', str(cfg), '--work-dir', work,
             '--cfg-options', f'train_dataloader.dataset.data_root={data}',
             'train_dataloader.num_workers=1',
             'train_dataloader.persistent_workers=True', *extra],
            cwd=ROOT, env=env, stdout=open(log, 'w'), stderr=subprocess.STDOUT,
            start_new_session=True)

    # 1. train "forever"; SIGTERM to the process group (the main process and
    # its data-loader worker) once the bank has wrapped (>= 18 iterations)
    log1 = str(tmp_path / 'run1.txt')
    proc = train('train_cfg.max_epochs=1000', log=log1)
    try:
        _wait_for_log(log1, proc,
                      lambda t: max(_logged_iters(t), default=0) >= 18)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=120) == EXIT_CODE, open(log1).read()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with open(log1) as f:
        text1 = f.read()
    assert 'killed by signal' not in text1
    with open(osp.join(work, 'last_checkpoint')) as f:
        ckpt_path = f.read()
    n = int(re.fullmatch(r'.*/iter_(\d+)\.pth', ckpt_path).group(1))
    assert ckpt_path == osp.join(work, f'iter_{n}.pth')
    assert _logged_iters(text1) == list(range(1, n + 1))
    assert (f'SIGTERM received; saved the state after iteration {n} '
            f'(epoch {(n - 1) // EPOCH_LEN + 1}) to {ckpt_path}') in text1
    ckpt = torch.load(ckpt_path, weights_only=False)
    epoch = (n - 1) // EPOCH_LEN  # the epoch in progress
    assert (ckpt['meta']['epoch'], ckpt['meta']['iter']) == (epoch, n)
    # the bank includes iteration n's features: every iteration enqueues the
    # same number of features (read off the first logged fill ratio)
    per_iter = round(
        float(re.search(r'bank/fill_ratio: ([\d.]+)', text1).group(1)) * BANK)
    assert per_iter > 0 and n * per_iter > BANK  # the ring wrapped
    bank = _bank(ckpt['state_dict'])
    assert int(bank['ptr']) == n * per_iter % BANK
    assert int(bank['num_written']) == BANK
    assert torch.allclose(bank['feats'].norm(dim=1), torch.ones(BANK))

    # 2. resume (auto): finish the preempted epoch and one more
    max_epochs = epoch + 2
    log2 = str(tmp_path / 'run2.txt')
    proc = train(f'train_cfg.max_epochs={max_epochs}', '--resume', log=log2)
    try:
        assert proc.wait(timeout=300) == 0, open(log2).read()[-4000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with open(log2) as f:
        text2 = f.read()
    assert f'Auto resumed from the latest checkpoint {ckpt_path}' in text2
    assert f'resumed epoch: {epoch}, iter: {n}' in text2
    skip = n - epoch * EPOCH_LEN
    assert f'skipping the {skip} of {EPOCH_LEN} batches' in text2
    total = max_epochs * EPOCH_LEN
    assert _logged_iters(text2) == list(range(n + 1, total + 1))
    # the resumed run started from exactly the saved state, bank included
    probe = torch.load(osp.join(work, 'resume_probe.pth'), weights_only=False)
    assert (probe['epoch'], probe['iter']) == (epoch, n)
    assert _same(probe['state_dict'], ckpt['state_dict'])
    assert _same(_bank(probe['state_dict']), bank)
    assert _same(probe['optimizer'], ckpt['optimizer'])
    final = torch.load(osp.join(work, f'epoch_{max_epochs}.pth'),
                       weights_only=False)
    assert (final['meta']['epoch'], final['meta']['iter']) == (max_epochs,
                                                               total)
    assert int(_bank(final['state_dict'])['ptr']) == total * per_iter % BANK
