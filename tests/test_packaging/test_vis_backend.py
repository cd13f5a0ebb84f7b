# Copyright (c) mmfa contributors. All rights reserved.
"""``tools/train.py --vis-backend tensorboard``: scalars through mmengine's
TensorboardVisBackend, read back from the event file."""
import json
import os.path as osp
import sys
import uuid

import pytest

from tests.utils import ROOT, load_tool, make_image_folder


def _args(tmp_path, data, *extra):
    return [
        osp.join(ROOT, 'tests/data/tiny_simclr.py'), '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        f'train_dataloader.dataset.data_root={data}',
        f'experiment_name=tb-{uuid.uuid4().hex}', *extra
    ]


def test_tensorboard_backend_writes_the_logged_scalars(tmp_path):
    pytest.importorskip('tensorboard', reason='requirements/optional.txt')
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    data = make_image_folder(str(tmp_path / 'data'))
    load_tool('tools/train.py').main(
        _args(tmp_path, data, '--vis-backend', 'tensorboard'))

    vis_data = next((tmp_path / 'work').glob('*/vis_data'))
    events = list(vis_data.glob('events.out.tfevents.*'))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0]))
    acc.Reload()
    # The local backend (kept) logged the same scalars: compare step by step.
    local = [json.loads(line) for line in open(vis_data / 'scalars.json')]
    assert [s['step'] for s in local] == [1, 2]
    tb_loss = {e.step: e.value for e in acc.Scalars('loss')}
    assert tb_loss == pytest.approx({s['step']: s['loss'] for s in local})
    assert 'lr' in acc.Tags()['scalars']


def test_missing_tensorboard_is_one_clear_line(tmp_path, monkeypatch):
    # An environment without tensorboard: importing it fails.
    monkeypatch.setitem(sys.modules, 'tensorboard', None)
    with pytest.raises(SystemExit) as exc:
        load_tool('tools/train.py').main(
            _args(tmp_path, '/nonexistent', '--vis-backend', 'tensorboard'))
    message = exc.value.code
    assert isinstance(message, str) and len(message.splitlines()) == 1
    assert '--vis-backend tensorboard needs the tensorboard package' in message
    assert 'pip install tensorboard' in message
    assert not (tmp_path / 'work').exists()  # stopped before any training


def test_vis_backend_is_added_once_next_to_the_local_one():
    from mmengine.config import Config
    train = load_tool('tools/train.py')
    cfg = Config.fromfile(osp.join(ROOT, 'tests/data/tiny_simclr.py'))
    args = train.parse_args([
        'cfg.py', '--vis-backend', 'tensorboard', '--vis-backend',
        'tensorboard'
    ])
    cfg = train.merge_args(cfg, args)
    assert [b['type'] for b in cfg.visualizer.vis_backends
            ] == ['LocalVisBackend', 'TensorboardVisBackend']
    with pytest.raises(SystemExit):  # argparse: an unknown backend
        train.parse_args(['cfg.py', '--vis-backend', 'wandb'])
