# Copyright (c) mmfa contributors. All rights reserved.
"""The compat layer: mmengine checkpoints on torch >= 2.6, safe by default (no code
runs from a checkpoint without an opt-in), clear errors for files that are not
checkpoints, and pkg:: configs without pkg_resources. Each test fails without the
corresponding fix."""
import functools
import hashlib
import http.server
import importlib.util
import os
import os.path as osp
import re
import sys
import threading

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import CheckpointLoader, load_checkpoint

import mmfa  # noqa: F401  (applies the patches)
from mmfa.utils import checkpoint_io, compat
from tests.utils import ROOT, make_image_folder, run_tool


class _NeedsGetattr:
    """Pickles through builtins.getattr, which weights_only must never allow (as
    plain mmengine's HistoryBuffer does for its statistics methods)."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'mean'))


def _training_checkpoint():
    hub = MessageHub('compat-test')
    hub.update_scalar('train/loss', np.float64(1.5))
    hub.update_scalar('train/loss', 2.0)
    hub.update_info('iter', 2)
    return {
        'meta': {'iter': 2, 'seed': np.int64(0), 'cfg': 'x = 1'},
        'state_dict': {'backbone.w': torch.ones(2, 2)},
        'message_hub': hub.state_dict(),
        'extra': {'array': np.arange(4), 'dtype': np.dtype('float32'),
                  'rng': np.random.RandomState(0).get_state()},
    }


def test_training_checkpoint_loads_weights_only(tmp_path, recwarn):
    path = str(tmp_path / 'ckpt.pth')
    torch.save(_training_checkpoint(), path)
    # torch's default (weights_only=True) refuses mmengine's own checkpoints ...
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path)
    # ... mmfa's loader takes them with the allow-list, without a full unpickle.
    ckpt = CheckpointLoader.load_checkpoint(path)
    assert not [w for w in recwarn if 'full unpickle' in str(w.message)]
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(1.75)
    np.testing.assert_array_equal(ckpt['extra']['array'], np.arange(4))
    assert ckpt['meta']['seed'] == 0


def test_load_checkpoint_into_model(tmp_path):
    model = torch.nn.Linear(2, 2)
    path = str(tmp_path / 'model.pth')
    state = {'state_dict': {k: torch.full_like(v, 3.)
                            for k, v in model.state_dict().items()},
             'message_hub': _training_checkpoint()['message_hub']}
    torch.save(state, path)
    load_checkpoint(model, path)
    assert torch.all(model.weight == 3.)


class _RunsCode:
    """A malicious pickle: loading it runs ``os.system``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_code_in_a_checkpoint_is_refused_unless_trusted(tmp_path,
                                                        monkeypatch):
    monkeypatch.delenv(checkpoint_io.TRUST_ENV, raising=False)
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'x': _RunsCode(marker)}, path)
    with pytest.raises(checkpoint_io.UntrustedCheckpointError) as err:
        CheckpointLoader.load_checkpoint(path)
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert path in message and 'posix.system' in message
    assert '--trust-checkpoint' in message and 'MMFA_TRUST_CHECKPOINT=1' in message
    assert not marker.exists()
    # a harmless pickle that needs more than the allow-list: the same refusal
    # (never a warning-only fallback) ...
    legacy = str(tmp_path / 'legacy.pth')
    torch.save({'dtype': _NeedsGetattr()}, legacy)
    with pytest.raises(checkpoint_io.UntrustedCheckpointError,
                       match='builtins.getattr'):
        CheckpointLoader.load_checkpoint(legacy)
    # ... until the user opts in (--trust-checkpoint sets the variable).
    monkeypatch.setenv(checkpoint_io.TRUST_ENV, '1')
    with pytest.warns(UserWarning, match=re.escape(legacy)):
        ckpt = CheckpointLoader.load_checkpoint(legacy)
    assert ckpt['dtype'] is HistoryBuffer.mean


def _released_checkpoints(tmp_path):
    """Files shaped like released OpenMMLab / MMSelfSup / torchvision weights."""
    from collections import OrderedDict
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    state_dict = model.state_dict()  # OrderedDict with _metadata
    files = {}
    # mmcv 1.x / MMSelfSup 0.x: meta of strings, ints, a tuple of classes
    files['mmcv'] = {
        'meta': {
            'mmcv_version': '1.4.0', 'time': 'Mon Jan 10 12:00:00 2022',
            'epoch': 200, 'iter': 100000, 'mmselfsup_version': '0.9.0',
            'config': 'model = dict(type="SimCLR")', 'CLASSES': ('a', 'b'),
            'env_info': 'sys.platform: linux', 'seed': np.int64(0),
            'exp_name': 'simclr.py', 'hook_msgs': {'last_ckpt': '/x.pth'}
        },
        'state_dict': OrderedDict(state_dict)
    }
    # mmengine / MMSelfSup 1.x / mmpretrain, published (optimizer dropped)
    files['mmengine'] = {
        'meta': {
            'epoch': 100, 'iter': 5000, 'seed': 1234, 'cfg': 'x = 1',
            'experiment_name': 'byol', 'time': '20230101_000000',
            'mmengine_version': '0.7.0',
            'dataset_meta': {'classes': ('a', 'b')}
        },
        'state_dict': state_dict
    }
    files['torchvision'] = state_dict  # a plain state dict
    paths = {}
    for name, obj in files.items():
        paths[name] = str(tmp_path / f'{name}.pth')
        torch.save(obj, paths[name])
    # torchvision's classic files use torch's legacy (non-zip) format
    paths['torchvision_legacy'] = str(tmp_path / 'resnet-0123abcd.pth')
    torch.save(state_dict, paths['torchvision_legacy'],
               _use_new_zipfile_serialization=False)
    return paths, state_dict


def test_released_checkpoints_load_without_opt_in(tmp_path, monkeypatch,
                                                  recwarn):
    monkeypatch.delenv(checkpoint_io.TRUST_ENV, raising=False)
    paths, state_dict = _released_checkpoints(tmp_path)
    for name, path in paths.items():
        ckpt = CheckpointLoader.load_checkpoint(path)
        loaded = ckpt.get('state_dict', ckpt)
        assert list(loaded) == list(state_dict), name
        for key, value in state_dict.items():
            assert torch.equal(loaded[key], value), (name, key)
    assert not [w for w in recwarn if 'trusted' in str(w.message)]


@pytest.mark.parametrize('content,match', [
    (b'', 'is empty'),
    (b'hello, this is a text file\n', 'is not a PyTorch checkpoint'),
    (bytes(range(7, 250)) * 20, 'is not a PyTorch checkpoint'),
    ('truncated', 'cannot be read'),
])
def test_files_that_are_not_checkpoints_are_named(tmp_path, content, match):
    path = str(tmp_path / 'bad.pth')
    if content == 'truncated':  # the first half of a real checkpoint
        torch.save({'w': torch.zeros(1000)}, path)
        with open(path, 'rb') as f:
            content = f.read()[:2000]
    with open(path, 'wb') as f:
        f.write(content)
    with pytest.raises(checkpoint_io.CheckpointError, match=match) as err:
        CheckpointLoader.load_checkpoint(path)
    assert path in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_missing_local_checkpoint_names_the_path(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(missing)


@pytest.fixture
def http_dir(tmp_path):
    root = tmp_path / 'served'
    root.mkdir()
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()


def test_http_checkpoint_trusted_only_by_a_full_pinned_sha256(
        http_dir, tmp_path, monkeypatch):
    root, url = http_dir
    monkeypatch.delenv(checkpoint_io.TRUST_ENV, raising=False)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    cache = tmp_path / 'hub' / 'checkpoints'
    src = str(root / 'tmp.pth')
    torch.save({'dtype': _NeedsGetattr()}, src)
    with open(src, 'rb') as f:
        payload = f.read()
    sha = hashlib.sha256(payload).hexdigest()
    for name in ('legacy.pth', f'legacy-{sha[:8]}.pth', 'pinned.pth',
                 'indexed.pth', 'legacy-deadbeef.pth', 'wrong.pth'):
        (root / name).write_bytes(payload)

    # No hash, or only a prefix of it in the name: refused, not unpickled.
    with pytest.raises(checkpoint_io.UntrustedCheckpointError,
                       match='#sha256=<64 hex digits>'):
        CheckpointLoader.load_checkpoint(f'{url}/legacy.pth')
    with pytest.raises(checkpoint_io.UntrustedCheckpointError):
        CheckpointLoader.load_checkpoint(f'{url}/legacy-{sha[:8]}.pth')
    # A full sha256 known before the download: as a URL fragment ...
    with pytest.warns(UserWarning, match='trusted'):
        ckpt = CheckpointLoader.load_checkpoint(f'{url}/pinned.pth#sha256={sha}')
    assert ckpt['dtype'] is HistoryBuffer.mean
    # ... or in the model index, by URL.
    index = tmp_path / 'model-index.yml'
    index.write_text(f'Models:\n  - Name: m\n    Weights: {url}/indexed.pth\n'
                     f'    Sha256: {sha}\n')
    monkeypatch.setattr(compat, '_REPO_ROOT', str(tmp_path))
    with pytest.warns(UserWarning, match='trusted'):
        CheckpointLoader.load_checkpoint(f'{url}/indexed.pth')
    # A prefix is no pin; a wrong hash deletes the download.
    with pytest.raises(checkpoint_io.CheckpointError, match='all 64 hex'):
        CheckpointLoader.load_checkpoint(f'{url}/pinned.pth#sha256={sha[:8]}')
    with pytest.raises(checkpoint_io.CheckpointError, match='expected deadbeef'):
        CheckpointLoader.load_checkpoint(f'{url}/legacy-deadbeef.pth')
    assert not (cache / 'legacy-deadbeef.pth').exists()
    with pytest.raises(checkpoint_io.CheckpointError, match=f'expected {"0" * 64}'):
        CheckpointLoader.load_checkpoint(f'{url}/wrong.pth#sha256={"0" * 64}')
    assert not (cache / 'wrong.pth').exists()
    # A plain weights file downloads and loads safely without any hash.
    torch.save({'state_dict': {'w': torch.ones(1)}}, str(root / 'plain.pth'))
    ckpt = CheckpointLoader.load_checkpoint(f'{url}/plain.pth')
    assert ckpt['state_dict']['w'].item() == 1.


def _original_package_utils():
    """A fresh copy of mmengine's package_utils (before mmfa's patch)."""
    import mmengine.utils.package_utils as patched
    spec = importlib.util.spec_from_file_location('_orig_package_utils',
                                                  patched.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pkg_config_base_without_pkg_resources(tmp_path, monkeypatch):
    cfg_file = tmp_path / 'uses_pkg_base.py'
    cfg_file.write_text("_base_ = 'mmpretrain::_base_/default_runtime.py'\n"
                        'x = 1\n')
    # Simulate setuptools >= 82: `import pkg_resources` fails.
    monkeypatch.setitem(sys.modules, 'pkg_resources', None)
    with pytest.raises(ImportError):
        _original_package_utils().get_installed_path('mmpretrain')
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.x == 1 and cfg.default_scope == 'mmpretrain'
    assert compat.get_installed_path('mmpretrain') == osp.dirname(
        importlib.util.find_spec('mmpretrain').origin)
    assert compat.is_installed('mmdet')
    assert not compat.is_installed('no_such_package_mmfa')


def test_resume_auto_continues_from_iteration_2(tmp_path):
    data = make_image_folder(str(tmp_path / 'data'))
    work = str(tmp_path / 'work')
    cfg = osp.join(ROOT, 'tests/data/tiny_simclr.py')
    data_opt = f'train_dataloader.dataset.data_root={data}'
    run_tool(['tools/train.py', cfg, '--work-dir', work, '--cfg-options',
              data_opt])
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    proc = run_tool(['tools/train.py', cfg, '--work-dir', work, '--resume',
                     '--cfg-options', data_opt, 'train_cfg.max_iters=4'])
    log = proc.stdout + proc.stderr
    assert 'resumed' in log.lower() and 'iter_2.pth' in log
    assert re.search(r'Iter\(train\) \[3/4\]', log), log[-3000:]
    assert not re.search(r'Iter\(train\) \[[12]/4\]', log)
    ckpt = torch.load(osp.join(work, 'iter_4.pth'), weights_only=False)
    assert ckpt['meta']['iter'] == 4
    # load_from (no resume) also takes the training checkpoint.
    proc = run_tool(['tools/train.py', cfg, '--work-dir',
                     str(tmp_path / 'work2'), '--cfg-options', data_opt,
                     f'load_from={osp.join(work, "iter_4.pth")}',
                     'train_cfg.max_iters=1'])
    assert 'Load checkpoint from' in proc.stdout + proc.stderr
