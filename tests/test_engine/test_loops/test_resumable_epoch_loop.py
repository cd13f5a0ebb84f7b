# Copyright (c) mmfa contributors. All rights reserved.
"""ResumableEpochBasedTrainLoop resumes a mid-epoch checkpoint at the next batch.

A reference run records, for every iteration, (epoch, batch index, iteration, the
sample indices of the batch); an interrupted run saves an iteration checkpoint and
stops; the resumed run must record exactly the missing tail of the reference.
"""
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mmfa  # noqa: F401  (fixes mmengine checkpoint loading on this torch)
import mmfa.engine.loops  # noqa: F401  (registers the loop)
from tests.utils.log_capture import capture_current_log

EPOCH_LEN = 5  # 10 samples, batch 2
MAX_EPOCHS = 3


class _IndexDataset(torch.utils.data.Dataset):
    """Sample i is the number i, so a batch shows which samples it holds."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i)]))


class _Model(BaseModel):
    """Remembers the samples its forward saw."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 1)
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.seen.append(inputs.view(-1).int().tolist())
        return dict(loss=(self.fc(inputs)**2).mean())


class _Record(Hook):

    def __init__(self):
        self.rows = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.rows.append((runner.epoch, batch_idx, runner.iter,
                          data_batch['inputs'].view(-1).int().tolist()))


class _Stop(Exception):
    pass


class _SaveAndStop(Hook):
    """Saves an iteration checkpoint (as a preemption does) and stops."""
    priority = 'LOWEST'

    def __init__(self, at):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at:
            runner.save_checkpoint(
                runner.work_dir, f'iter_{self.at}.pth', by_epoch=False)
            raise _Stop


def _runner(work_dir, hooks, loop='ResumableEpochBasedTrainLoop', n=10,
            num_workers=0, checkpoint=None, **kwargs):
    return Runner(
        model=_Model(),
        work_dir=str(work_dir),
        experiment_name=f'resloop-{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=_IndexDataset(n),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            num_workers=num_workers,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(type=loop, max_epochs=MAX_EPOCHS),
        custom_hooks=hooks,
        default_hooks=dict(checkpoint=checkpoint),
        default_scope='mmfa',
        randomness=dict(seed=0),
        **kwargs)


def _interrupted(tmp_path, stop_at):
    rec = _Record()
    runner = _runner(tmp_path / 'interrupted', [rec, _SaveAndStop(stop_at)])
    with pytest.raises(_Stop):
        runner.train()
    return rec.rows, str(tmp_path / 'interrupted' / f'iter_{stop_at}.pth')


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    rec = _Record()
    runner = _runner(tmp_path_factory.mktemp('reference'), [rec])
    runner.train()
    rows = rec.rows
    assert len(rows) == MAX_EPOCHS * EPOCH_LEN
    # shuffled, a different order each epoch, each sample once per epoch
    epochs = [sum((r[3] for r in rows if r[0] == e), [])
              for e in range(MAX_EPOCHS)]
    assert all(sorted(e) == list(range(10)) for e in epochs)
    assert epochs[0] != epochs[1] and epochs[0] != list(range(10))
    return rows


@pytest.mark.parametrize(
    'stop_at,num_workers',
    [(7, 0), (7, 1), (EPOCH_LEN, 0), (1, 0)],
    ids=['mid-epoch', 'mid-epoch-worker', 'end-of-epoch', 'first-iter'])
def test_resume_skips_exactly_the_completed_batches(tmp_path, reference,
                                                    stop_at, num_workers):
    before, ckpt = _interrupted(tmp_path, stop_at)
    assert before == reference[:stop_at]
    meta = torch.load(ckpt, weights_only=False)['meta']
    # a mid-epoch checkpoint: the epoch in progress, the completed iterations
    assert (meta['epoch'], meta['iter']) == ((stop_at - 1) // EPOCH_LEN,
                                             stop_at)

    rec = _Record()
    runner = _runner(tmp_path / 'resumed', [rec], num_workers=num_workers,
                     load_from=ckpt, resume=True)
    with capture_current_log() as log:
        runner.train()
    # the missing tail of the reference, with the original batch indices; the
    # model saw none of the skipped samples
    assert rec.rows == reference[stop_at:]
    assert runner.model.seen == [r[3] for r in reference[stop_at:]]
    assert runner.iter == MAX_EPOCHS * EPOCH_LEN
    skip = stop_at - (stop_at - 1) // EPOCH_LEN * EPOCH_LEN
    assert any(f'skipping the {skip} of {EPOCH_LEN} batches' in m
               for m in log), log


def test_fresh_run_and_epoch_checkpoint_skip_nothing(tmp_path, reference):
    # resuming an end-of-epoch checkpoint (meta epoch 1, iter 5) skips nothing
    runner = _runner(tmp_path / 'a', [], checkpoint=dict(
        type='CheckpointHook', interval=1, by_epoch=True))
    runner.train()
    rec = _Record()
    resumed = _runner(tmp_path / 'b', [rec],
                      load_from=str(tmp_path / 'a' / 'epoch_1.pth'),
                      resume=True)
    with capture_current_log() as log:
        resumed.train()
    assert rec.rows == reference[EPOCH_LEN:]
    assert not any('skipping' in m for m in log)


def test_mmengine_loop_repeats_the_epoch(tmp_path, reference):
    """Why the loop exists: mmengine's loop restarts the preempted epoch."""
    _, ckpt = _interrupted(tmp_path, 7)
    rec = _Record()
    runner = _runner(tmp_path / 'resumed', [rec], loop='EpochBasedTrainLoop',
                     load_from=ckpt, resume=True)
    runner.train()
    assert rec.rows[0] == (1, 0, 7, reference[EPOCH_LEN][3])
    assert runner.iter == MAX_EPOCHS * EPOCH_LEN + 2  # overruns by 2


def test_changed_epoch_length_is_a_clear_error(tmp_path):
    _, ckpt = _interrupted(tmp_path, 7)  # epoch 1, iter 7 with 5 per epoch
    runner = _runner(tmp_path / 'resumed', [], n=4, load_from=ckpt,
                     resume=True)  # 2 iterations per epoch
    with pytest.raises(ValueError, match='iterations per epoch changed'):
        runner.train()
