# Copyright (c) mmfa contributors. All rights reserved.
"""Safe checkpoint loading and crash-safe checkpoint saving.

Loading (:func:`load_checkpoint_file`): always ``torch.load(weights_only=True)`` with
mmfa's allow-list (:func:`safe_checkpoint_globals`). A file that needs any other
global (a class or function a full unpickle would import and call, i.e. code) is
refused with :class:`UntrustedCheckpointError`, unless the user opted in
(:func:`checkpoint_trusted`: ``--trust-checkpoint``, the config key
``trust_checkpoint=True`` or ``MMFA_TRUST_CHECKPOINT=1``) or the file is a download
whose full sha256 was pinned before the download. Files that are not checkpoints
(empty, text, random bytes, truncated) raise :class:`CheckpointError` naming the
file, instead of torch's ``EOFError`` / ``KeyError`` / ``IndexError``.

Saving (:func:`save_checkpoint`, :func:`atomic_write_text`): a file appears under
its final name only when complete: it is written to a temporary file in the same
directory, flushed, fsynced and renamed over the final name (``os.replace`` is
atomic on POSIX file systems), then the directory is fsynced. mmfa installs these
into mmengine (see :func:`apply_checkpoint_save_patches`): ``Runner.save_checkpoint``
writes local checkpoints atomically, and ``CheckpointHook`` writes the new checkpoint,
then ``last_checkpoint`` (atomically), and only then removes old checkpoints. A
``kill -9`` at any moment of a save thus leaves ``last_checkpoint`` naming a complete
checkpoint, which ``--resume`` (auto) continues from.
"""
import glob
import os
import os.path as osp
import pickle
import re
import socket
import warnings
import zipfile
from collections import OrderedDict
from typing import Callable, List, Optional

import torch

__all__ = [
    'CheckpointError', 'UntrustedCheckpointError', 'TRUST_ENV',
    'checkpoint_trusted', 'set_checkpoint_trust', 'safe_checkpoint_globals',
    'load_checkpoint_file', 'atomic_write', 'atomic_write_text',
    'save_checkpoint', 'write_last_checkpoint', 'apply_checkpoint_save_patches',
    'is_resuming', 'check_resume_checkpoint', 'match_state_dict_keys',
    'closest_prefix_hint'
]

#: Environment variable of the opt-in to fully unpickle checkpoints.
TRUST_ENV = 'MMFA_TRUST_CHECKPOINT'
_TRUE = ('1', 'true', 'yes', 'on')
_OPT_IN = ('pass --trust-checkpoint (tools/train.py, tools/test.py, '
           'tools/model_converters/extract_backbone.py), set '
           f'trust_checkpoint=True in the config or {TRUST_ENV}=1 (any tool)')


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used; the message names the file and what to
    do (one line)."""


class UntrustedCheckpointError(CheckpointError):
    """A checkpoint that needs more than ``weights_only`` loading (could run code)."""


def checkpoint_trusted() -> bool:
    """Whether the user opted in to fully unpickling checkpoints
    (``MMFA_TRUST_CHECKPOINT``; ``--trust-checkpoint`` and ``trust_checkpoint=True``
    set it)."""
    return os.environ.get(TRUST_ENV, '').strip().lower() in _TRUE


def set_checkpoint_trust(trust: bool) -> None:
    """Set the opt-in of :func:`checkpoint_trusted` for this process and its children.

    Args:
        trust (bool): Whether checkpoints needing a full unpickle may be loaded.
    """
    os.environ[TRUST_ENV] = '1' if trust else '0'


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


def _global_name(obj) -> str:
    return f'{obj.__module__}.{obj.__qualname__}'


_GLOBAL_IN_MESSAGE = re.compile(r'GLOBAL ([\w.]+)')


def _disallowed_globals(filename: str, error: Exception) -> List[str]:
    """The globals of ``filename`` that the allow-list does not cover."""
    names = []
    finder = getattr(torch.serialization, 'get_unsafe_globals_in_checkpoint',
                     None)
    if finder is not None and zipfile.is_zipfile(filename):
        try:
            allowed = {_global_name(g) for g in safe_checkpoint_globals()}
            names = [n for n in finder(filename) if n not in allowed]
        except Exception:  # noqa: BLE001  fall back to torch's message
            names = []
    if not names:
        names = list(dict.fromkeys(_GLOBAL_IN_MESSAGE.findall(str(error))))
    return names


def _file_problem(filename: str) -> Optional[str]:
    """Why ``filename`` cannot be a torch checkpoint, judged from its first bytes,
    or None if it may be one."""
    size = osp.getsize(filename)
    if size == 0:
        return 'is empty (0 bytes): not a checkpoint (an interrupted save or copy?)'
    if zipfile.is_zipfile(filename):
        return None
    with open(filename, 'rb') as f:
        head = f.read(4)
    if head == b'PK\x03\x04':
        return ('cannot be read: a zip archive without its end (truncated: an '
                'interrupted save or download?)')
    # torch's legacy format is a pickle: protocol opcode 0x80 and version 2-5.
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return None
    with open(filename, 'rb') as f:
        start = f.read(16)
    return (f'is not a PyTorch checkpoint (it starts with {start!r}: neither the '
            'zip archive nor the pickle torch.save writes)')


def load_checkpoint_file(filename: str,
                         map_location=None,
                         trusted: bool = False,
                         opt_in_hint: str = ''):
    """Load a checkpoint with ``weights_only=True`` and mmfa's allow-list.

    Args:
        filename (str): Path of the checkpoint file.
        map_location: Same as :func:`torch.load`.
        trusted (bool): Whether this file may be fully unpickled if it needs more
            than the allow-list (a download whose full sha256 was pinned). The
            user's opt-in (:func:`checkpoint_trusted`) counts as well. Defaults to
            False.
        opt_in_hint (str): Extra ways to trust this file, for the error message.

    Returns:
        The loaded object (normally a dict).

    Raises:
        UntrustedCheckpointError: The file needs globals beyond the allow-list and
            nobody opted in.
        CheckpointError: The file is not a (complete) checkpoint.
    """
    problem = _file_problem(filename)
    if problem is not None:
        raise CheckpointError(f'Checkpoint file {filename} {problem}; pass a '
                              '.pth file written by torch.save / mmengine.')
    try:
        with torch.serialization.safe_globals(safe_checkpoint_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        names = _disallowed_globals(filename, e)
        if not names:
            raise CheckpointError(
                f'Checkpoint file {filename} cannot be read '
                f'({_first_line(e)}); it is truncated or not a checkpoint.'
            ) from None
        what = ', '.join(names[:8]) + (' ...' if len(names) > 8 else '')
        if not (trusted or checkpoint_trusted()):
            raise UntrustedCheckpointError(
                f'Checkpoint {filename} needs {what}, which mmfa\'s weights_only '
                'allow-list does not contain (unpickling it could run code), so '
                'it was not loaded. If you trust this file, '
                f'{opt_in_hint}{_OPT_IN}.') from None
        warnings.warn(
            f'Checkpoint {filename} needs {what} beyond the weights_only '
            'allow-list; fully unpickling it because it is trusted (opt-in or a '
            'pinned sha256).')
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    except (EOFError, KeyError, IndexError, ValueError, RuntimeError) as e:
        # What torch raises for damaged or foreign bytes; other RuntimeErrors
        # (e.g. a CUDA map_location without a GPU) keep their own message.
        if isinstance(e, RuntimeError) and not any(
                s in str(e) for s in ('zip', 'archive', 'StreamReader')):
            raise
        raise CheckpointError(
            f'Checkpoint file {filename} cannot be read ({type(e).__name__}: '
            f'{_first_line(e)}); it is truncated (an interrupted save or '
            'download) or not a checkpoint.') from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else repr(e)
    return line[:200]


# ------------------------------------------------------------------- saving
def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # e.g. a platform without directory file descriptors
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable) -> None:
    """Write ``path`` so that it appears only complete.

    ``write(f)`` writes into a binary temporary file in the same directory, which is
    flushed, fsynced and renamed over ``path``; the directory is fsynced so the
    rename survives a power loss. A crash leaves the old ``path`` (or none) and a
    hidden ``.<name>.tmp.<host>.<pid>`` file, which the next successful write of
    ``path`` on that host removes (if that pid no longer runs).

    Args:
        path (str): The final path.
        write (callable): Called with the open temporary file.
    """
    path = osp.abspath(path)
    directory, name = osp.split(path)
    os.makedirs(directory, exist_ok=True)
    stem = f'.{name}.tmp.{socket.gethostname()}.'
    tmp = osp.join(directory, f'{stem}{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)
    _remove_stale_temporaries(directory, stem)


def _remove_stale_temporaries(directory: str, stem: str) -> None:
    """Remove temporary files of killed writes of the same file by this host (the
    pid in the name is not running); other writers' files are left alone."""
    for stale in glob.glob(osp.join(glob.escape(directory),
                                    glob.escape(stem) + '*')):
        pid = stale[len(osp.join(directory, stem)):]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running: another writer
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.remove(stale)
        except OSError:
            pass


def atomic_write_text(path: str, text: str) -> None:
    """:func:`atomic_write` of a UTF-8 text."""
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))


def _is_local(filename: str, backend_args: Optional[dict]) -> bool:
    if backend_args:
        return False
    return '://' not in str(filename)


def save_checkpoint(checkpoint,
                    filename,
                    file_client_args=None,
                    backend_args=None):
    """``mmengine.runner.save_checkpoint`` that writes local files atomically.

    Other backends (``s3://``, ``pavi://``, custom ``backend_args``) go to mmengine's
    implementation unchanged.
    """
    from mmengine.runner import checkpoint as mm_checkpoint
    original = _ORIGINALS.get('save_checkpoint', mm_checkpoint.save_checkpoint)
    if file_client_args is not None or not _is_local(filename, backend_args):
        return original(
            checkpoint,
            filename,
            file_client_args=file_client_args,
            backend_args=backend_args)
    atomic_write(str(filename), lambda f: torch.save(checkpoint, f))


def write_last_checkpoint(work_dir: str, ckpt_path: str) -> None:
    """Atomically point ``work_dir/last_checkpoint`` (read by ``--resume`` auto) at
    ``ckpt_path``."""
    atomic_write_text(osp.join(work_dir, 'last_checkpoint'), str(ckpt_path))


# --------------------------------------------------- mmengine CheckpointHook
def _remove_checkpoint(hook, step) -> None:
    path = hook.file_backend.join_path(hook.out_dir,
                                       hook.filename_tmpl.format(step))
    if hook.file_backend.isfile(path):
        hook.file_backend.remove(path)
    elif hook.file_backend.isdir(path):
        # checkpoints saved by deepspeed are directories
        hook.file_backend.rmtree(path)


def _save_checkpoint_with_step(self, runner, step, meta):
    """``CheckpointHook._save_checkpoint_with_step`` (mmengine 0.10.7) in a crash-safe
    order: save the new checkpoint, point ``last_checkpoint`` at it, and only then
    remove the checkpoints beyond ``max_keep_ckpts`` (mmengine removes first)."""
    from mmengine.dist import is_main_process
    to_remove = []
    if self.max_keep_ckpts > 0:
        # _save_checkpoint and _save_best_checkpoint may both save this step.
        if not (len(self.keep_ckpt_ids) > 0 and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                to_remove.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

    ckpt_filename = self.filename_tmpl.format(step)
    self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
    runner.message_hub.update_info('last_ckpt', self.last_ckpt)

    runner.save_checkpoint(
        self.out_dir,
        ckpt_filename,
        self.file_client_args,
        save_optimizer=self.save_optimizer,
        save_param_scheduler=self.save_param_scheduler,
        meta=meta,
        by_epoch=self.by_epoch,
        backend_args=self.backend_args,
        **self.args)

    # Model parallel-like training should involve pulling sharded states
    # from all ranks, but skip the following procedure.
    if not is_main_process():
        return
    write_last_checkpoint(runner.work_dir, self.last_ckpt)
    for old in to_remove:
        if old != step:
            _remove_checkpoint(self, old)


def _save_best_checkpoint(self, runner, metrics):
    """``CheckpointHook._save_best_checkpoint`` with the previous best checkpoint
    removed only after the new one is written (mmengine removes it first)."""
    backend = self.file_backend
    deferred = []
    # Instance attributes shadow the backend's methods for this call only.
    backend.remove = deferred.append
    backend.rmtree = deferred.append
    try:
        _ORIGINALS['_save_best_checkpoint'](self, runner, metrics)
    finally:
        del backend.remove
        del backend.rmtree
    keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None)}
    keep.update(getattr(self, 'best_ckpt_path_dict', {}).values())
    for path in deferred:
        if path in keep:
            continue
        if backend.isfile(path):
            backend.remove(path)
        elif backend.isdir(path):
            backend.rmtree(path)


# ------------------------------------------------- mmengine Runner loading
_RESUMING: List[str] = []  # checkpoints being resumed (Runner.resume)


def is_resuming() -> bool:
    """Whether a ``Runner.resume`` is loading a checkpoint right now (the feature
    banks refuse another size then, see :class:`~mmfa.models.memories.FeatureBank`)."""
    return bool(_RESUMING)


def check_resume_checkpoint(checkpoint, filename: str) -> None:
    """Raise :class:`CheckpointError` unless ``checkpoint`` is an mmengine training
    checkpoint (``meta`` with ``epoch`` and ``iter``, ``state_dict``,
    ``message_hub``), which ``--resume`` needs.

    Args:
        checkpoint: The loaded checkpoint.
        filename (str): Its path, for the message.
    """
    lacking = []
    if not isinstance(checkpoint, dict):
        lacking = ['meta', 'state_dict', 'message_hub']
    else:
        meta = checkpoint.get('meta')
        if not isinstance(meta, dict):
            lacking.append('meta')
        else:
            lacking += [f'meta.{k}' for k in ('epoch', 'iter') if k not in meta]
        lacking += [
            k for k in ('state_dict', 'message_hub') if k not in checkpoint
        ]
    if lacking:
        raise CheckpointError(
            f'Cannot resume from {filename}: it is not an mmengine training '
            f'checkpoint (it lacks {", ".join(lacking)}), e.g. a released or '
            'extracted weights file. To start a new run from its weights, use '
            f'--cfg-options load_from={filename} without --resume.')


def _top_prefixes(keys) -> List[str]:
    return list(dict.fromkeys(k.split('.')[0] + '.' for k in keys if '.' in k))


def closest_prefix_hint(model_keys, ckpt_keys) -> str:
    """The leading prefixes of both key sets and, if one exists, the renaming of a
    leading prefix that would make the most checkpoint keys match (for messages).

    Args:
        model_keys (list[str]): The model's state-dict keys.
        ckpt_keys (list[str]): The checkpoint's state-dict keys.

    Returns:
        str: ``"; the model's keys start with ...; closest prefixes: ..."``.
    """
    model_set = set(model_keys)
    base = sum(k in model_set for k in ckpt_keys)
    best = (base, '', '')
    for strip in [''] + _top_prefixes(ckpt_keys):
        for add in [''] + _top_prefixes(model_keys):
            if not strip and not add:
                continue
            n = sum(1 for k in ckpt_keys if k.startswith(strip)
                    and add + k[len(strip):] in model_set)
            if n > best[0]:
                best = (n, strip, add)
    model_prefixes = ', '.join(_top_prefixes(model_keys)[:6]) or '-'
    ckpt_prefixes = ', '.join(_top_prefixes(ckpt_keys)[:6]) or '-'
    hint = (f"; the model's keys start with {model_prefixes} and the "
            f"checkpoint's with {ckpt_prefixes}")
    if best[0] > base:
        hint += (f"; closest prefixes: checkpoint '{best[1]}*' -> model "
                 f"'{best[2]}*' would match {best[0]} keys")
    return hint


def match_state_dict_keys(model,
                          state_dict: dict,
                          source: str,
                          prefix: Optional[str] = None,
                          allow_partial: bool = False) -> dict:
    """Check that a checkpoint's state dict fits ``model``; the entries to load.

    Missing model weights (other than BN ``num_batches_tracked`` counters),
    checkpoint entries the model lacks and shape mismatches are an error naming
    them and the closest prefixes, unless ``allow_partial``. With ``prefix``, only
    the keys under it are compared and loaded (e.g. ``'backbone.'`` to load the
    backbone of a pre-training checkpoint and keep the rest as initialised).
    Modules with ``_checks_own_checkpoint_shapes = True`` (feature banks) check
    their own shapes.

    Args:
        model (nn.Module): The (unwrapped) model.
        state_dict (dict): The checkpoint's state dict (``module.`` stripped).
        source (str): The checkpoint path, for the message.
        prefix (str, optional): Only compare and load keys under this prefix.
        allow_partial (bool): Load whatever matches, without an error.

    Returns:
        dict: The entries to load.

    Raises:
        CheckpointError: One line naming the missing / unexpected / mis-shaped
            keys and the options.
    """
    from mmfa.evaluation.functional.pretrained import summarise_keys
    own = model.state_dict()
    if prefix:
        own = {k: v for k, v in own.items() if k.startswith(prefix)}
        selected = {k: v for k, v in state_dict.items() if k.startswith(prefix)}
        if not selected:
            raise CheckpointError(
                f'Checkpoint {source} has no key under the prefix {prefix!r} '
                f'named by load_from_cfg.prefix; it holds '
                f'{summarise_keys(state_dict)}'
                f'{closest_prefix_hint(list(own), list(state_dict))}.')
        state_dict = selected
    if allow_partial:
        return state_dict
    own_shapes = [
        name + '.' for name, m in model.named_modules()
        if name and getattr(m, '_checks_own_checkpoint_shapes', False)
    ]
    missing = [
        k for k in own
        if k not in state_dict and not k.endswith('num_batches_tracked')
    ]
    # Non-tensor entries (e.g. 'meta' of a plain dict) are not weights.
    unexpected = [
        k for k in state_dict
        if k not in own and isinstance(state_dict[k], torch.Tensor)
    ]
    shapes = [
        f'{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}'
        for k in own if k in state_dict and hasattr(state_dict[k], 'shape')
        and tuple(state_dict[k].shape) != tuple(own[k].shape)
        and not any(k.startswith(p) for p in own_shapes)
    ]
    if not (missing or unexpected or shapes):
        return state_dict
    parts = []
    if missing:
        parts.append(f'{len(missing)} of the model\'s {len(own)} weights are '
                     f'missing ({summarise_keys(missing, 6)})')
    if unexpected:
        parts.append(f'{len(unexpected)} checkpoint entries are not in the '
                     f'model ({summarise_keys(unexpected, 6)})')
    if shapes:
        parts.append(f'{len(shapes)} shapes differ (checkpoint vs model: '
                     f'{"; ".join(shapes[:3])})')
    raise CheckpointError(
        f'Checkpoint {source} does not match the model: {", ".join(parts)}'
        f'{closest_prefix_hint(list(own), list(state_dict))}. Use a checkpoint '
        'of this model, or, to load only part of it, name the prefix to load '
        "(load_from_cfg=dict(prefix='backbone.')) or allow partial loading "
        '(load_from_cfg=dict(allow_partial=True)).')


def _runner_resume(self, filename, *args, **kwargs):
    """``Runner.resume`` that marks the load as a resume (see :func:`is_resuming`)."""
    _RESUMING.append(filename)
    try:
        return _ORIGINALS['resume'](self, filename, *args, **kwargs)
    finally:
        _RESUMING.pop()


def _runner_load_checkpoint(self,
                            filename: str,
                            map_location='cpu',
                            strict: bool = False,
                            revise_keys: list = [(r'^module.', '')]):
    """``Runner.load_checkpoint`` (mmengine 0.10.7) that refuses a checkpoint that does
    not fit the model instead of warning (``load_from``, ``--resume``, tools/test.py):
    see :func:`match_state_dict_keys`; the config's ``load_from_cfg =
    dict(prefix=..., allow_partial=...)`` relaxes it. A resume also needs an
    mmengine training checkpoint (:func:`check_resume_checkpoint`)."""
    from mmengine.model import is_model_wrapper
    from mmengine.runner.checkpoint import (_load_checkpoint,
                                            _load_checkpoint_to_model)
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    if is_resuming():
        check_resume_checkpoint(checkpoint, filename)
    self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
    model = self.model.module if is_model_wrapper(self.model) else self.model
    if not strict:
        if not isinstance(checkpoint, dict):
            raise CheckpointError(
                f'Checkpoint {filename} holds a {type(checkpoint).__name__}, not '
                'a state dict or an mmengine checkpoint.')
        opts = dict((self.cfg.get('load_from_cfg') if self.cfg else None) or {})
        unknown = set(opts) - {'prefix', 'allow_partial'}
        if unknown:
            raise CheckpointError(
                f'load_from_cfg has unknown keys {sorted(unknown)}; it takes '
                'prefix (str) and allow_partial (bool).')
        state_dict = checkpoint.get('state_dict', checkpoint)
        metadata = getattr(state_dict, '_metadata', OrderedDict())
        for pattern, repl in revise_keys:
            state_dict = OrderedDict(
                (re.sub(pattern, repl, k), v) for k, v in state_dict.items())
        state_dict = OrderedDict(
            match_state_dict_keys(
                model,
                state_dict,
                filename,
                prefix=opts.get('prefix'),
                allow_partial=bool(opts.get('allow_partial', False))))
        state_dict._metadata = metadata
        checkpoint = dict(checkpoint)
        checkpoint['state_dict'] = state_dict
        revise_keys = []  # done above
    checkpoint = _load_checkpoint_to_model(
        model, checkpoint, strict, revise_keys=revise_keys)
    self._has_loaded = True
    self.logger.info(f'Load checkpoint from {filename}')
    return checkpoint


_ORIGINALS = {}


def apply_checkpoint_save_patches() -> None:
    """Make mmengine's checkpoint saving crash-safe (idempotent); see the module
    docstring."""
    import mmengine.runner as mm_runner
    import mmengine.runner.checkpoint as mm_checkpoint
    import mmengine.runner.runner as mm_runner_module
    from mmengine.hooks import CheckpointHook

    _ORIGINALS.setdefault('save_checkpoint', mm_checkpoint.save_checkpoint)
    for module in (mm_checkpoint, mm_runner_module, mm_runner):
        if getattr(module, 'save_checkpoint', None) is not save_checkpoint:
            module.save_checkpoint = save_checkpoint
    _ORIGINALS.setdefault('_save_best_checkpoint',
                          CheckpointHook._save_best_checkpoint)
    CheckpointHook._save_checkpoint_with_step = _save_checkpoint_with_step
    CheckpointHook._save_best_checkpoint = _save_best_checkpoint
    Runner = mm_runner_module.Runner
    _ORIGINALS.setdefault('resume', Runner.resume)
    Runner.resume = _runner_resume
    Runner.load_checkpoint = _runner_load_checkpoint
