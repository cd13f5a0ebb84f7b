# Copyright (c) mmfa contributors. All rights reserved.
"""The compat layer: mmengine checkpoints on torch >= 2.6 and pkg:: configs without
pkg_resources. Each test fails without the corresponding fix."""
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
from mmfa.utils import compat
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


def test_getattr_pickle_falls_back_with_warning_for_local_files(tmp_path):
    path = str(tmp_path / 'legacy.pth')
    torch.save({'dtype': _NeedsGetattr()}, path)
    with pytest.warns(UserWarning, match=re.escape(path)):
        ckpt = CheckpointLoader.load_checkpoint(path)
    assert ckpt['dtype'] is HistoryBuffer.mean
    with pytest.raises(RuntimeError, match='sha256 was not verified'):
        compat.load_checkpoint_file(path, allow_full_unpickle=False)


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


def test_http_checkpoint_full_unpickle_only_after_sha256(
        http_dir, tmp_path, monkeypatch):
    root, url = http_dir
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    src = str(root / 'tmp.pth')
    torch.save({'dtype': _NeedsGetattr()}, src)
    sha = hashlib.sha256(open(src, 'rb').read()).hexdigest()
    os.rename(src, str(root / 'legacy.pth'))
    with open(root / 'legacy.pth', 'rb') as f:
        payload = f.read()
    (root / f'legacy-{sha[:8]}.pth').write_bytes(payload)
    (root / 'legacy-deadbeef.pth').write_bytes(payload)

    # No hash to verify: refused, not unpickled.
    with pytest.raises(RuntimeError, match='sha256 was not verified'):
        CheckpointLoader.load_checkpoint(f'{url}/legacy.pth')
    # Verified by the hash in its name: loaded (with a warning).
    with pytest.warns(UserWarning, match='sha256 matched'):
        ckpt = CheckpointLoader.load_checkpoint(f'{url}/legacy-{sha[:8]}.pth')
    assert ckpt['dtype'] is HistoryBuffer.mean
    # A wrong hash: error, and the bad download is deleted.
    with pytest.raises(RuntimeError, match='expected deadbeef'):
        CheckpointLoader.load_checkpoint(f'{url}/legacy-deadbeef.pth')
    assert not osp.exists(tmp_path / 'hub' / 'checkpoints' /
                          'legacy-deadbeef.pth')
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
