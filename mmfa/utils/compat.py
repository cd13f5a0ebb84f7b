# Copyright (c) mmfa contributors. All rights reserved.
"""Fixes for the known breakages of mmfa's pinned stack (see ``../shared/ENV.md``).

1. mmengine 0.10.7 calls ``torch.load(path)`` and torch >= 2.6 defaults to
   ``weights_only=True``, so mmengine cannot resume or load its own checkpoints
   (``HistoryBuffer`` and numpy objects in the message hub). mmfa replaces mmengine's
   local and http(s) checkpoint loaders: they load with ``weights_only=True`` and an
   allow-list of the types mmengine's checkpoints contain; only where that cannot work
   (some numpy pickles need ``builtins.getattr``, which must never be allow-listed) do
   they fall back to a full unpickle, for a local file with a warning naming it, for a
   downloaded file only after its sha256 matched. mmengine's ``HistoryBuffer`` pickles
   references to its statistics methods (``getattr(HistoryBuffer, 'mean')``); mmfa
   saves it without the four built-in ones (its ``__setstate__`` restores them), so
   checkpoints written with mmfa imported load under ``weights_only=True``.
2. mmengine's ``pkg::`` config bases (``_base_ = 'mmpretrain::...'``) resolve packages with
   ``pkg_resources``, which setuptools >= 82 removed. mmfa resolves them with
   ``importlib`` instead, so such configs load with any setuptools.

``apply_compat_patches`` is idempotent and runs when ``mmfa`` is imported.
"""
import hashlib
import importlib.util
import os
import os.path as osp
import pickle
import re
import warnings
from typing import Callable, List, Optional
from urllib.parse import urlparse

import torch

__all__ = [
    'apply_compat_patches', 'load_checkpoint_file', 'load_from_local',
    'load_from_http', 'get_installed_path', 'is_installed', 'sha256sum',
    'safe_checkpoint_globals'
]

# torch hub's convention: ``name-<first 8+ hex digits of the sha256>.ext``.
_HASH_IN_NAME = re.compile(r'-([a-f0-9]{8,64})\.')


def safe_checkpoint_globals() -> List:
    """The types an mmengine/mmfa training checkpoint contains beyond tensors."""
    import numpy as np
    from mmengine.logging import HistoryBuffer
    allowed = [
        HistoryBuffer, np.ndarray, np.dtype, np.core.multiarray._reconstruct,
        np.core.multiarray.scalar
    ]
    # numpy >= 1.25 pickles dtypes as instances of these classes.
    allowed += [
        getattr(np.dtypes, name) for name in dir(getattr(np, 'dtypes', None))
        if name.endswith('DType')
    ]
    return allowed


def sha256sum(path: str, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def load_checkpoint_file(filename: str,
                         map_location=None,
                         allow_full_unpickle: bool = True,
                         reason: str = 'a local file'):
    """Load a checkpoint as safely as its content allows.

    Args:
        filename (str): Path of the checkpoint file.
        map_location: Same as :func:`torch.load`.
        allow_full_unpickle (bool): Whether a file that ``weights_only=True`` cannot
            load may be fully unpickled (code execution). True for local files the user
            named; for downloads only after their sha256 was verified.
        reason (str): Why the fallback is acceptable, for the warning.

    Returns:
        dict: The loaded checkpoint.
    """
    try:
        with torch.serialization.safe_globals(safe_checkpoint_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if not allow_full_unpickle:
            raise RuntimeError(
                f'Checkpoint {filename} cannot be loaded with weights_only=True '
                f'({str(e).splitlines()[-1][:200]}) and its sha256 was not '
                'verified, so mmfa refuses to unpickle it fully. Download it with '
                'tools/misc/download_checkpoint.py (which verifies the sha256) or '
                'name a local copy you trust.') from e
        warnings.warn(
            f'Checkpoint {filename} needs objects beyond the weights_only '
            f'allow-list ({str(e).splitlines()[-1][:200]}); loading it with a '
            f'full unpickle because it is {reason}. Only load checkpoints you '
            'trust.')
        return torch.load(
            filename, map_location=map_location, weights_only=False)


def load_from_local(filename: str, map_location=None):
    """mmengine ``CheckpointLoader`` scheme for local paths (prefix ``''``)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'Checkpoint {filename} can not be found; check the path given to '
            '--resume, load_from or init_cfg.checkpoint.')
    return load_checkpoint_file(filename, map_location)


def load_from_http(filename: str,
                   map_location=None,
                   model_dir: Optional[str] = None,
                   progress: bool = True,
                   expected_sha256: Optional[str] = None):
    """mmengine ``CheckpointLoader`` scheme for ``http://`` and ``https://``.

    The file is cached under ``$TORCH_HOME/hub/checkpoints``. A full unpickle is allowed
    only when its sha256 was verified: against ``expected_sha256`` or the hash prefix in
    the file name (torch hub's ``name-<sha256 prefix>.pth`` convention).
    """
    from mmengine.dist import barrier, get_dist_info
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    name = osp.basename(urlparse(filename).path)
    cached = osp.join(model_dir, name)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.exists(cached):
        torch.hub.download_url_to_file(filename, cached, None, progress)
    if world_size > 1:
        barrier()  # the other ranks read rank 0's download
    match = _HASH_IN_NAME.search(name)
    expected = expected_sha256 or (match.group(1) if match else None)
    verified = False
    if expected:
        actual = sha256sum(cached)
        if not actual.startswith(expected.lower()):
            os.remove(cached)
            raise RuntimeError(
                f'sha256 of {filename} is {actual}, expected {expected}; the '
                'corrupt download was deleted, try again.')
        verified = True
    return load_checkpoint_file(
        cached,
        map_location,
        allow_full_unpickle=verified,
        reason=f'a download of {filename} whose sha256 matched')


def _module_path(package: str) -> Optional[str]:
    spec = importlib.util.find_spec(package)
    if spec is None:
        return None
    if spec.origin is not None:
        return osp.dirname(spec.origin)
    raise RuntimeError(f'{package} is a namespace package, which is invalid '
                       'for `get_installed_path`')


def is_installed(package: str) -> bool:
    """``mmengine.utils.is_installed`` without ``pkg_resources``."""
    from importlib import metadata
    try:
        metadata.distribution(package)
        return True
    except metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def get_installed_path(package: str) -> str:
    """``mmengine.utils.get_installed_path`` without ``pkg_resources``."""
    from importlib import metadata

    from mmengine.utils.package_utils import package2module
    path = _module_path(package)
    if path is not None:
        return path
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError as e:
        raise metadata.PackageNotFoundError(
            f'{package} is not installed (needed by a `{package}::` config '
            'base); install it first.') from e
    location = str(dist.locate_file(''))
    possible = osp.join(location, package)
    if osp.exists(possible):
        return possible
    return osp.join(location, package2module(package))


_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getstate(self) -> dict:
    """``HistoryBuffer.__getstate__`` without the built-in statistics methods.

    mmengine's version stores ``_statistics_methods`` (functions, pickled through
    ``builtins.getattr``) and mutates ``__dict__``; the built-in four are restored by
    ``HistoryBuffer.__setstate__``, so only custom-registered methods are kept.
    """
    state = {k: v for k, v in self.__dict__.items() if k != 'statistics_methods'}
    custom = {
        k: v
        for k, v in self._statistics_methods.items()
        if k not in _DEFAULT_STATISTICS
    }
    if custom:
        state['statistics_methods'] = custom
    return state


def _patch_attr(module, name: str, new: Callable) -> None:
    if getattr(module, name, None) is not new:
        setattr(module, name, new)


def apply_compat_patches() -> None:
    """Install the fixes described in this module's docstring (idempotent)."""
    import mmengine.config.config as mmengine_config
    import mmengine.hub.hub as mmengine_hub
    import mmengine.utils as mmengine_utils
    import mmengine.utils.package_utils as package_utils
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader

    _patch_attr(HistoryBuffer, '__getstate__', _history_buffer_getstate)

    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_from_http, force=True)
    for module in (package_utils, mmengine_utils, mmengine_config,
                   mmengine_hub):
        if hasattr(module, 'get_installed_path'):
            _patch_attr(module, 'get_installed_path', get_installed_path)
        if hasattr(module, 'is_installed'):
            _patch_attr(module, 'is_installed', is_installed)
