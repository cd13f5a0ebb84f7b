# Copyright (c) mmfa contributors. All rights reserved.
"""Fixes for the known breakages of mmfa's pinned stack (see ``../shared/ENV.md``),
and mmfa's safety rules for checkpoints.

1. mmengine 0.10.7 calls ``torch.load(path)`` and torch >= 2.6 defaults to
   ``weights_only=True``, so mmengine cannot resume or load its own checkpoints
   (``HistoryBuffer`` and numpy objects in the message hub). mmfa replaces mmengine's
   local and http(s) checkpoint loaders (also used by ``torchvision://``,
   ``open-mmlab://`` and ``mmcls://``): they *always* load with ``weights_only=True``
   and an allow-list of the types mmengine's checkpoints contain
   (:mod:`mmfa.utils.checkpoint_io`). A file that needs anything else is refused
   with a message naming it and the opt-in (``--trust-checkpoint``,
   ``trust_checkpoint=True``, ``MMFA_TRUST_CHECKPOINT=1``); a download is trusted
   without the opt-in only when its full sha256 was known before the download
   (``URL#sha256=<64 hex digits>`` or the ``Sha256`` of its ``Weights`` URL in
   ``model-index.yml``) and matches; a hash prefix in the file name (torch hub's
   ``name-<hash prefix>.pth``) is only checked against corruption. mmengine's
   ``HistoryBuffer`` pickles references to its statistics methods
   (``getattr(HistoryBuffer, 'mean')``, which must never be allow-listed); mmfa saves
   it without the four built-in ones (its ``__setstate__`` restores them), so
   checkpoints written with mmfa imported load under ``weights_only=True``.
2. mmengine's ``pkg::`` config bases (``_base_ = 'mmpretrain::...'``) resolve packages with
   ``pkg_resources``, which setuptools >= 82 removed. mmfa resolves them with
   ``importlib`` instead, so such configs load with any setuptools.
3. Checkpoint saves are atomic and old checkpoints are removed only after the new
   one is complete (:func:`mmfa.utils.checkpoint_io.apply_checkpoint_save_patches`).
4. Clear one-line errors for unreadable images and unparsable ``--cfg-options``
   values (:mod:`mmfa.utils.config_checks`).

``apply_compat_patches`` is idempotent and runs when ``mmfa`` is imported.
"""
import hashlib
import importlib.util
import os
import os.path as osp
import re
from typing import Callable, Optional
from urllib.parse import urlparse

import torch

from .checkpoint_io import (CheckpointError, load_checkpoint_file,
                            safe_checkpoint_globals)
from .model_index import load_model_index

__all__ = [
    'apply_compat_patches', 'load_checkpoint_file', 'load_from_local',
    'load_from_http', 'get_installed_path', 'is_installed', 'sha256sum',
    'safe_checkpoint_globals', 'pinned_sha256'
]

# torch hub's convention: ``name-<first 8+ hex digits of the sha256>.ext``.
_HASH_IN_NAME = re.compile(r'-([a-f0-9]{8,64})\.')
# pip's convention for a pinned hash: ``URL#sha256=<64 hex digits>``.
_SHA256_FRAGMENT = re.compile(r'^sha256=([0-9a-fA-F]+)$')
_FULL_SHA256 = re.compile(r'^[0-9a-fA-F]{64}$')
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def sha256sum(path: str, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def pinned_sha256(url: str, index: Optional[str] = None) -> Optional[str]:
    """The full sha256 that the model index lists for the ``Weights`` ``url``.

    The index is ``model-index.yml`` and the metafiles it imports
    (:func:`~mmfa.utils.model_index.load_model_index`).

    Args:
        url (str): The checkpoint URL (without a ``#sha256=`` fragment).
        index (str, optional): The model index. Defaults to the repository's
            ``model-index.yml``.

    Returns:
        str | None: 64 lower-case hex digits, or None (not listed, or only a
        prefix: a prefix does not verify a download).
    """
    index = index or osp.join(_REPO_ROOT, 'model-index.yml')
    try:
        models = load_model_index(index)['Models']
    except Exception:  # noqa: BLE001  an unreadable index pins nothing
        return None
    for model in models:
        if model.get('Weights') == url:
            sha = str(model.get('Sha256') or '')
            if _FULL_SHA256.match(sha):
                return sha.lower()
    return None


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

    The file is cached under ``$TORCH_HOME/hub/checkpoints`` and loaded with
    :func:`~mmfa.utils.checkpoint_io.load_checkpoint_file`. It counts as verified
    (and may then be fully unpickled if it needs to) only when its sha256 equals a
    full sha256 known before the download: ``expected_sha256``, a
    ``#sha256=<64 hex digits>`` fragment of the URL, or the ``Sha256`` that
    ``model-index.yml`` lists for the URL. A mismatch deletes the file and raises.
    A hash prefix in the file name (torch hub's convention) is checked too, but
    only as a corruption check: it does not verify the file.
    """
    from mmengine.dist import barrier, get_dist_info
    parsed = urlparse(filename)
    url = parsed._replace(fragment='').geturl()
    if expected_sha256 is None and parsed.fragment:
        match = _SHA256_FRAGMENT.match(parsed.fragment)
        if match is None:
            raise CheckpointError(
                f'Cannot use the URL fragment "#{parsed.fragment}" of {filename}: '
                'the only fragment mmfa understands is #sha256=<64 hex digits>.')
        expected_sha256 = match.group(1)
    if expected_sha256 is None:
        expected_sha256 = pinned_sha256(url)
    if expected_sha256 is not None and not _FULL_SHA256.match(expected_sha256):
        raise CheckpointError(
            f'The sha256 given for {url} is "{expected_sha256}": give all 64 hex '
            'digits (a prefix does not verify a download).')
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    name = osp.basename(parsed.path)
    cached = osp.join(model_dir, name)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.exists(cached):
        torch.hub.download_url_to_file(url, cached, None, progress)
    if world_size > 1:
        barrier()  # the other ranks read rank 0's download
    checks = []
    if expected_sha256 is not None:
        checks.append(expected_sha256.lower())
    match = _HASH_IN_NAME.search(name)
    if match:
        checks.append(match.group(1))
    if checks:
        actual = sha256sum(cached)
        for expected in checks:
            if not actual.startswith(expected):
                if rank == 0:
                    os.remove(cached)
                raise CheckpointError(
                    f'sha256 of {url} is {actual}, expected {expected}; the '
                    'corrupt or unexpected download was deleted, try again.')
    return load_checkpoint_file(
        cached,
        map_location,
        trusted=expected_sha256 is not None,
        opt_in_hint=('pin its full sha256 (load_from="URL#sha256=<64 hex '
                     'digits>" or its Sha256 in model-index.yml), or '))


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
    import mmengine.runner.checkpoint as mm_checkpoint
    from mmengine.runner.checkpoint import CheckpointLoader

    from .checkpoint_io import apply_checkpoint_save_patches
    from .config_checks import apply_error_message_patches

    _patch_attr(HistoryBuffer, '__getstate__', _history_buffer_getstate)

    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_from_http, force=True)
    # torchvision://, open-mmlab:// and mmcls:// download through this name.
    _patch_attr(mm_checkpoint, 'load_from_http', load_from_http)
    apply_checkpoint_save_patches()
    apply_error_message_patches()
    for module in (package_utils, mmengine_utils, mmengine_config,
                   mmengine_hub):
        if hasattr(module, 'get_installed_path'):
            _patch_attr(module, 'get_installed_path', get_installed_path)
        if hasattr(module, 'is_installed'):
            _patch_attr(module, 'is_installed', is_installed)
