# Copyright (c) mmfa contributors. All rights reserved.
"""One-line errors for common input mistakes that mmengine / mmcv report obscurely.

- :class:`DictAction`: ``--cfg-options`` parsing that rejects what it cannot parse
  with one line (mmengine's recurses ~1000 frames on ``key=dict(a=1)`` and asserts on
  unbalanced brackets); ``key=dict(a=1, b='x')`` values are understood.
- :func:`check_top_level_keys`: a top-level config key that no Runner reads but
  that is one or two typos away from a Runner argument (``load_form``) is an error;
  other helper variables (``data_root``, ``train_pipeline``) stay allowed.
- :func:`apply_error_message_patches`: mmcv's ``LoadImageFromFile`` names the file it
  cannot read (:class:`UnreadableImageError`), or, with ``ignore_empty=True`` or
  ``MMFA_SKIP_UNREADABLE_IMAGES=1``, skips it with a logged count.
"""
import argparse
import ast
import inspect
import logging
import os
from typing import Any, Iterable, Optional

from mmengine.config import DictAction as _MMEngineDictAction

__all__ = [
    'DictAction', 'ConfigKeyError', 'UnreadableImageError',
    'check_top_level_keys', 'apply_error_message_patches', 'one_line_error',
    'SKIP_IMAGES_ENV'
]

#: Environment variable that makes every ``LoadImageFromFile`` skip unreadable images.
SKIP_IMAGES_ENV = 'MMFA_SKIP_UNREADABLE_IMAGES'


class ConfigKeyError(ValueError):
    """A config key that is (almost certainly) a typo."""


class UnreadableImageError(OSError):
    """An image file that cannot be read or decoded; the message names it."""


# ----------------------------------------------------------- --cfg-options
def _literal_call(node: ast.AST) -> Any:
    """``ast.literal_eval`` that also accepts ``dict(k=v, ...)`` calls."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == 'dict' and not node.args):
        out = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise ValueError('**kwargs')
            out[kw.arg] = _literal_call(kw.value)
        return out
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal_call(x) for x in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        return {
            _literal_call(k): _literal_call(v)
            for k, v in zip(node.keys, node.values)
        }
    return ast.literal_eval(node)


class DictAction(_MMEngineDictAction):
    """mmengine's ``DictAction`` (``KEY=VALUE`` pairs; ``KEY=[a,b]`` lists;
    ``KEY=(a,b)`` tuples) with clear errors instead of deep recursion or assertions.

    Additionally, a value written as a Python literal call ``dict(k=v, ...)`` (as in
    config files, e.g. ``model.head.augmenter=dict(type='MaskFA',ratio=0.2)``) is
    parsed into a dict. A value mmengine's parser cannot read is rejected with one
    line naming the key, the value and the ``key.sub=value`` alternative.
    """

    def _parse_value(self, key: str, val: str) -> Any:
        stripped = val.strip()
        if stripped.startswith('dict('):
            try:
                return _literal_call(ast.parse(stripped, mode='eval').body)
            except (SyntaxError, ValueError) as e:
                raise argparse.ArgumentError(
                    self, f'cannot parse the value of {key}: {val!r} ({e}); '
                    'write dict(...) with literal values only, or set the keys '
                    f'one by one: {key}.type=NAME {key}.OPTION=VALUE') from None
        pairs = {'[': ']', '(': ')'}
        depth = []
        quote = None
        for ch in stripped:
            if quote:
                quote = None if ch == quote else quote
            elif ch in '\'"':
                quote = ch
            elif ch in pairs:
                depth.append(pairs[ch])
            elif ch in pairs.values():
                if not depth or depth.pop() != ch:
                    depth = ['?']
                    break
        if depth or quote:
            raise argparse.ArgumentError(
                self, f'cannot parse the value of {key}: {val!r} has unbalanced '
                'brackets or quotes; quote the whole KEY=VALUE for the shell, '
                f'e.g. "{key}=[1,2]"')
        try:
            return self._parse_iterable(val)
        except (RecursionError, AssertionError, ValueError, IndexError) as e:
            raise argparse.ArgumentError(
                self, f'cannot parse the value of {key}: {val!r} '
                f'({type(e).__name__}); use KEY=VALUE, KEY=[a,b], KEY=(a,b) or '
                'KEY=dict(a=1) with literal values') from None

    def __call__(self, parser, namespace, values, option_string=None):
        options = dict(getattr(namespace, self.dest, None) or {})
        if not isinstance(values, (list, tuple)):
            values = [values]
        for kv in values:
            if '=' not in kv:
                raise argparse.ArgumentError(
                    self, f'expects KEY=VALUE pairs, got {kv!r} (e.g. '
                    'train_cfg.max_epochs=10)')
            key, val = kv.split('=', maxsplit=1)
            if not key:
                raise argparse.ArgumentError(self, f'empty key in {kv!r}')
            options[key] = self._parse_value(key, val)
        setattr(namespace, self.dest, options)


# ------------------------------------------------------------ config keys
# Top-level keys read by mmengine's Runner.from_cfg besides Runner's arguments,
# and mmfa's own (tools, hooks and mmfa.evaluation).
_EXTRA_KEYS = frozenset({
    'model_wrapper_cfg', 'runner_type', 'compile', 'work_dir', 'launcher',
    'custom_imports', 'trust_checkpoint', 'load_from_cfg',
    'knn_train_dataloader', 'knn_val_dataloader', 'tta_model', 'tta_pipeline',
    'strategy', 'filename'
})


def _osa_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal-string-alignment edit distance (a transposition counts once)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2 = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if (i > 1 and j > 1 and a[i - 1] == b[j - 2]
                    and a[i - 2] == b[j - 1]):
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def runner_config_keys() -> frozenset:
    """Top-level config keys that mmengine's Runner (or mmfa's tools) read."""
    from mmengine.runner import Runner
    params = inspect.signature(Runner.__init__).parameters
    return frozenset(p for p in params if p != 'self') | _EXTRA_KEYS


def check_top_level_keys(cfg, known: Optional[Iterable[str]] = None) -> None:
    """Raise on a top-level key that looks like a typo of a Runner argument.

    A key no Runner reads is normally a helper variable of the config file
    (``data_root``, ``train_pipeline``) and is allowed, unless it is within one
    edit (two for names of 12+ characters; a swap of neighbours is one edit) of a
    Runner argument: then the setting would be silently ignored (``load_form`` for
    ``load_from``). Keys starting with ``_`` are not checked.

    Args:
        cfg (mmengine.Config): The config.
        known (Iterable[str], optional): The keys read by the runner. Defaults to
            :func:`runner_config_keys`.

    Raises:
        ConfigKeyError: With a one-line message naming the key and the fix.
    """
    known = frozenset(known) if known is not None else runner_config_keys()
    for key in cfg.keys():
        if key in known or key.startswith('_'):
            continue
        # One edit (a swap of neighbours counts once) catches the usual typos;
        # two only for long names, so that helpers like knn_cfg stay allowed.
        limit = 2 if len(key) >= 12 else 1
        close = sorted((_osa_distance(key, k, limit), k) for k in known
                       if len(k) >= 4)
        if close and close[0][0] <= limit and len(key) >= 4:
            target = close[0][1]
            raise ConfigKeyError(
                f'Unknown top-level config key {key!r}: did you mean '
                f'{target!r}? No runner reads {key!r}, so it would be silently '
                f'ignored; rename it to {target!r} (a helper variable meant '
                "to have this name can start with '_').")


# ---------------------------------------------------------- image loading
_SKIPPED = [0]
_ORIGINAL_TRANSFORM = {}


def _skip_enabled(transform) -> bool:
    return bool(getattr(transform, 'ignore_empty', False)) or os.environ.get(
        SKIP_IMAGES_ENV, '').strip().lower() in ('1', 'true', 'yes', 'on')


def _load_image_transform(self, results: dict):
    """mmcv ``LoadImageFromFile.transform`` that names the file it cannot read and
    counts the skipped ones (see the module docstring)."""
    from mmengine.logging import print_log
    path = results.get('img_path')
    reason = 'unreadable'
    try:
        out = _ORIGINAL_TRANSFORM['transform'](self, results)
    except Exception as e:  # noqa: BLE001  any decoder / file-system error
        reason = f'{type(e).__name__}: {one_line_error(e)}'
        if not _skip_enabled(self):
            raise UnreadableImageError(
                f'Cannot read the image {path} ({reason}); fix or remove the '
                'file, or skip unreadable images with '
                'LoadImageFromFile(ignore_empty=True) or '
                f'{SKIP_IMAGES_ENV}=1 (each skip is logged).') from None
        out = None
    if out is None:
        _SKIPPED[0] += 1
        print_log(
            f'Skipped the unreadable image {path} ({reason}); {_SKIPPED[0]} '
            'image(s) skipped so far by this process (another sample is drawn '
            'in its place).',
            logger='current',
            level=logging.WARNING)
    return out


def apply_error_message_patches() -> None:
    """Install the clearer image-loading errors (idempotent)."""
    from mmcv.transforms import LoadImageFromFile
    if LoadImageFromFile.transform is not _load_image_transform:
        _ORIGINAL_TRANSFORM.setdefault('transform', LoadImageFromFile.transform)
        LoadImageFromFile.transform = _load_image_transform


def one_line_error(exc: BaseException) -> str:
    """The last meaningful line of an error's message (for errors re-raised from a
    DataLoader worker, whose message embeds the worker's traceback), without the
    ``module.ClassName: `` prefix."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    last = lines[-1]
    name = type(exc).__name__
    for prefix in (f'{type(exc).__module__}.{name}: ', f'{name}: '):
        if last.startswith(prefix):
            last = last[len(prefix):]
    return last
