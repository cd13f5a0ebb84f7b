# Copyright (c) mmfa contributors. All rights reserved.
"""Crash-safe checkpoint saving: a training process is killed with SIGKILL in the
middle of a save (while the file is written, between the rename and the
``last_checkpoint`` update, before the old checkpoint is removed) and the work dir
must still hold a complete checkpoint that ``last_checkpoint`` names and that
``--resume`` (auto) continues from. mmengine's own order (remove the oldest
checkpoint, then write the new one in place) fails the first case."""
import glob
import os
import os.path as osp
import signal
import subprocess
import sys
import time
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mmfa  # noqa: F401  (installs the crash-safe saving)
from mmfa.utils import checkpoint_io
from tests.utils import ROOT, vector_dataset

# A training run of 4 iterations with a checkpoint after each (max_keep_ckpts=1,
# as in every quickstart config). With argv[2] == 'write' the save of iter_3.pth
# blocks after writing half of the file (mmfa's or mmengine's writer) until the
# test kills the process; 'resume' resumes (auto) and finishes.
CHILD = r'''
import io, os, sys, time, uuid
import torch
import torch.nn as nn
from mmengine.fileio import LocalBackend
from mmengine.model import BaseModel
from mmengine.runner import Runner
import mmfa
from mmfa.utils import checkpoint_io

work, moment = sys.argv[1], sys.argv[2]
TARGET = 'iter_3.pth'


def block():
    open(os.path.join(work, 'blocked'), 'w').close()
    time.sleep(600)


if moment == 'write':
    torch_save = torch.save

    def half_then_block(obj, f, *args, **kwargs):
        if TARGET in str(getattr(f, 'name', '')):
            buf = io.BytesIO()
            torch_save(obj, buf, *args, **kwargs)
            f.write(buf.getvalue()[:len(buf.getvalue()) // 2])
            f.flush()
            block()
        return torch_save(obj, f, *args, **kwargs)

    torch.save = half_then_block
    put = LocalBackend.put

    def put_half_then_block(self, obj, filepath):  # mmengine's own path
        if TARGET in str(filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            block()
        return put(self, obj, filepath)

    LocalBackend.put = put_half_then_block


class Vectors(torch.utils.data.Dataset):

    def __init__(self):
        self.x = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=self.x[i])


class Model(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=(self.fc(inputs)**2).mean())


runner = Runner(
    model=Model(),
    work_dir=work,
    experiment_name=f'atomic-{uuid.uuid4().hex}',
    train_dataloader=dict(
        dataset=Vectors(),
        sampler=dict(type='DefaultSampler', shuffle=True),
        batch_size=2,
        collate_fn=dict(type='default_collate')),
    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
    train_cfg=dict(type='IterBasedTrainLoop', max_iters=4),
    default_hooks=dict(
        checkpoint=dict(
            type='CheckpointHook', interval=1, by_epoch=False,
            max_keep_ckpts=1)),
    resume=moment == 'resume',
    default_scope='mmfa',
    randomness=dict(seed=0))
runner.train()
print('finished at iteration', runner.iter)
'''


def _start(script, work, moment, log):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    with open(log, 'w') as f:
        return subprocess.Popen([sys.executable, script, work, moment],
                                cwd=ROOT, env=env, stdout=f,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)


def _kill_when_blocked(proc, work, log, timeout=180):
    deadline = time.monotonic() + timeout
    while not osp.exists(osp.join(work, 'blocked')):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with open(log) as f:
                raise AssertionError(f'never blocked ({proc.returncode}):\n'
                                     f'{f.read()[-3000:]}')
        time.sleep(0.05)  # polling for the child's marker file
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_kill_9_while_writing_a_checkpoint_then_resume(tmp_path):
    script = str(tmp_path / 'child.py')
    with open(script, 'w') as f:
        f.write(CHILD)
    work = str(tmp_path / 'work')
    os.makedirs(work)
    log = str(tmp_path / 'run1.txt')
    _kill_when_blocked(_start(script, work, 'write', log), work, log)

    # last_checkpoint names the previous, complete checkpoint, which was not
    # removed; the interrupted write stays in a hidden temporary file.
    with open(osp.join(work, 'last_checkpoint')) as f:
        last = f.read()
    assert last == osp.join(work, 'iter_2.pth')
    assert sorted(glob.glob(osp.join(work, 'iter_*.pth'))) == [last]
    assert torch.load(last, weights_only=False)['meta']['iter'] == 2
    assert glob.glob(osp.join(work, '.iter_3.pth.tmp.*'))

    # --resume (auto) continues from it and finishes; the stale temporary file
    # of the killed write is removed by the next save of iter_3.pth.
    os.remove(osp.join(work, 'blocked'))
    log2 = str(tmp_path / 'run2.txt')
    proc = _start(script, work, 'resume', log2)
    assert proc.wait(timeout=180) == 0, open(log2).read()[-3000:]
    with open(log2) as f:
        text = f.read()
    assert f'Auto resumed from the latest checkpoint {last}' in text
    assert 'resumed epoch: 0, iter: 2' in text
    assert 'finished at iteration 4' in text
    assert sorted(glob.glob(osp.join(work, 'iter_*.pth'))) == [
        osp.join(work, 'iter_4.pth')
    ]
    assert not glob.glob(osp.join(work, '.iter_3.pth.tmp.*'))


class _Killed(BaseException):
    """Stands for a SIGKILL at a point of the save: nothing after it runs."""


class _Model(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=(self.fc(inputs)**2).mean())


@pytest.mark.parametrize('moment,survivor', [('last_checkpoint', 2),
                                             ('remove', 3)])
def test_killed_after_the_rename_leaves_a_complete_last_checkpoint(
        tmp_path, monkeypatch, moment, survivor):
    def kill_at_iter_3(*args):
        if runner.iter == 2:  # the save of iter_3.pth
            raise _Killed

    if moment == 'last_checkpoint':
        original = checkpoint_io.write_last_checkpoint

        def write_last(work_dir, path):
            kill_at_iter_3()
            original(work_dir, path)

        monkeypatch.setattr(checkpoint_io, 'write_last_checkpoint', write_last)
    else:
        monkeypatch.setattr(checkpoint_io, '_remove_checkpoint', kill_at_iter_3)
    work = str(tmp_path / 'work')
    runner = Runner(
        model=_Model(),
        work_dir=work,
        experiment_name=f'atomic-{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=vector_dataset(8, 2),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=4),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=False, max_keep_ckpts=1)),
        default_scope='mmfa',
        randomness=dict(seed=0))
    with pytest.raises(_Killed):
        runner.train()
    with open(osp.join(work, 'last_checkpoint')) as f:
        last = f.read()
    assert last == osp.join(work, f'iter_{survivor}.pth')
    # both are complete: the new one was renamed into place whole, the old one
    # is removed only after last_checkpoint moved on
    for step in (2, 3):
        ckpt = torch.load(osp.join(work, f'iter_{step}.pth'), weights_only=False)
        assert ckpt['meta']['iter'] == step


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = str(tmp_path / 'last_checkpoint')
    checkpoint_io.atomic_write_text(path, 'old')

    def fail(f):
        f.write(b'partial')
        raise OSError('disk full')

    with pytest.raises(OSError, match='disk full'):
        checkpoint_io.atomic_write(path, fail)
    with open(path) as f:
        assert f.read() == 'old'
    assert os.listdir(tmp_path) == ['last_checkpoint']


def test_key_mismatch_names_missing_unexpected_and_closest_prefixes():
    model = nn.Sequential()
    model.add_module('backbone', nn.Linear(2, 2))
    model.add_module('head', nn.Linear(2, 1))
    extracted = {'weight': torch.zeros(2, 2), 'bias': torch.zeros(2)}
    with pytest.raises(checkpoint_io.CheckpointError) as err:
        checkpoint_io.match_state_dict_keys(model, extracted, 'x.pth')
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert "4 of the model's 4 weights are missing" in message
    assert '2 checkpoint entries are not in the model (weight, bias)' in message
    assert "closest prefixes: checkpoint '*' -> model 'backbone.*' would " \
        'match 2 keys' in message
    # the explicit opt-outs: the prefix to load, or partial loading
    full = {f'backbone.{k}': v for k, v in extracted.items()}
    full['neck.w'] = torch.zeros(1)
    assert list(checkpoint_io.match_state_dict_keys(
        model, full, 'x.pth', prefix='backbone.')) == [
            'backbone.weight', 'backbone.bias'
        ]
    assert checkpoint_io.match_state_dict_keys(
        model, extracted, 'x.pth', allow_partial=True) is extracted
    with pytest.raises(checkpoint_io.CheckpointError, match="no key under the "
                       "prefix 'encoder.'"):
        checkpoint_io.match_state_dict_keys(model, full, 'x.pth',
                                            prefix='encoder.')
