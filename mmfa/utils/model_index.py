# Copyright (c) mmfa contributors. All rights reserved.
"""Read mmfa's model index: ``model-index.yml`` and the metafiles it imports.

``model-index.yml`` is OpenMMLab's root index (``Import:`` a list of
``configs/**/metafile.yml``); each metafile holds ``Collections`` and ``Models``.
The format, and how a result says whether it was reported by a paper or measured
by mmfa, is documented in ``tools/misc/render_metafiles.py``. Every reader of the
index (``tools/misc/download_checkpoint.py``, the sha256 pin of
:func:`mmfa.utils.compat.pinned_sha256`, the renderer and
``tools/analysis_tools/collect_results.py``) goes through :func:`load_model_index`.
This module needs only PyYAML.
"""
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

__all__ = [
    'DEFAULT_INDEX', 'PAPER_TABLES', 'ModelIndexError', 'load_model_index',
    'load_metafile', 'parse_task', 'paper_cells', 'model_results'
]

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_INDEX = osp.join(REPO_ROOT, 'model-index.yml')

# ``Task: 'Linear probe (reported by the authors)'`` / ``'... (measured by mmfa)'``.
# The marker lives in Task because model-index / mim keep only Task, Dataset and
# Metrics of a result: a separate key would be dropped by that tooling.
TASK_RE = re.compile(r'^(?P<protocol>[^()]+?) \((?P<source>reported|measured) '
                     r'by (?P<by>[^()]+)\)$')
# ``Metadata: Paper tables: ['Table I: Basic / Mask', ...]``: (table, row, FA).
CELL_RE = re.compile(r'^Table (?P<table>[IVX]+): (?P<row>.+?) / (?P<fa>.+)$')

# The paper's tables (arXiv:2410.12396): caption, the protocol (Task without the
# source marker) and metrics of their cells. Layout only; every number is in the
# metafiles. ``transpose``: the paper puts FA methods in rows (Table VI).
PAPER_TABLES = {
    'I': dict(caption='ImageNet-100 linear top-1, layouts x FA methods',
              protocol='Linear probe', metrics=('Top 1 Accuracy', )),
    'II': dict(caption='ImageNet-100 linear top-1, without stop-gradient',
               protocol='Linear probe', metrics=('Top 1 Accuracy', )),
    'III': dict(caption='ImageNet-100 linear top-1, DA settings '
                '(Parallel-predictor)',
                protocol='Linear probe', metrics=('Top 1 Accuracy', )),
    'IV': dict(caption='ImageNet-100 linear top-1, FA-BYOL',
               protocol='Linear probe', metrics=('Top 1 Accuracy', )),
    'V': dict(caption='ImageNet-1k linear top-1 (batch 512)',
              protocol='Linear probe', metrics=('Top 1 Accuracy', )),
    'VI': dict(caption='VOC07 test, Faster R-CNN R50-C4 (AP / AP50 / AP75)',
               protocol='Object Detection', metrics=('AP', 'AP50', 'AP75'),
               transpose=True),
}


class ModelIndexError(ValueError):
    """A model index or metafile that is missing or malformed."""


def load_metafile(path: str) -> Dict[str, list]:
    """``Collections``, ``Models`` and ``Import`` of one YAML file.

    Args:
        path (str): A ``model-index.yml`` or ``metafile.yml``.

    Returns:
        dict: ``Collections``, ``Models`` and ``Import`` lists (empty if absent).
    """
    import yaml
    if not osp.isfile(path):
        raise ModelIndexError(
            f'Model index {path} does not exist; check the path (or the Import '
            'list of the index that names it).')
    with open(path) as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise ModelIndexError(f'{path} is not valid YAML: {e}') from e
    if not isinstance(data, dict):
        raise ModelIndexError(f'{path} must be a mapping with Collections / '
                              'Models / Import, not a YAML scalar or list.')
    return {
        key: list(data.get(key) or [])
        for key in ('Collections', 'Models', 'Import')
    }


def load_model_index(path: Optional[str] = None,
                     with_source: bool = False) -> Dict[str, list]:
    """All collections and models of an index, following ``Import`` lists.

    Imports are relative to the importing file (OpenMMLab's convention).

    Args:
        path (str, optional): The index. Defaults to the repository's
            ``model-index.yml``.
        with_source (bool): Add ``_metafile`` (the absolute path of the file that
            defines it) to every collection and model dict. Defaults to False.

    Returns:
        dict: ``Collections`` and ``Models`` lists, in import order.
    """
    out = dict(Collections=[], Models=[])
    _collect(osp.abspath(path or DEFAULT_INDEX), out, with_source, [])
    return out


def _collect(path, out, with_source, stack):
    if path in stack:
        raise ModelIndexError(f'{path} imports itself (via {stack[-1]}); '
                              'remove the cycle from the Import lists.')
    data = load_metafile(path)
    for key in ('Collections', 'Models'):
        for entry in data[key]:
            if with_source:
                entry = dict(entry, _metafile=path)
            out[key].append(entry)
    for sub in data['Import']:
        _collect(osp.normpath(osp.join(osp.dirname(path), sub)), out,
                 with_source, stack + [path])


def parse_task(task: str) -> Tuple[str, str, str]:
    """Split a result's ``Task`` into (protocol, source, by).

    Args:
        task (str): e.g. ``'Linear probe (reported by the authors)'``.

    Returns:
        tuple[str, str, str]: ``('Linear probe', 'reported', 'the authors')``;
        source is ``'reported'`` (a paper's number) or ``'measured'`` (mmfa's
        own run).
    """
    match = TASK_RE.match(str(task or ''))
    if match is None:
        raise ModelIndexError(
            f'Result Task "{task}" does not say where its numbers come from; '
            'write "<protocol> (reported by <who>)" for a paper\'s number or '
            '"<protocol> (measured by mmfa)" for a run of mmfa.')
    return match['protocol'], match['source'], match['by']


def paper_cells(model: dict) -> List[Tuple[str, str, str]]:
    """The (table, row, FA) cells of the paper a model reproduces (may be [])."""
    cells = []
    for text in (model.get('Metadata') or {}).get('Paper tables') or []:
        match = CELL_RE.match(str(text))
        if match is None:
            raise ModelIndexError(
                f'Paper table cell "{text}" of {model.get("Name")} is not '
                '"Table <roman>: <row> / <FA>".')
        cells.append((match['table'], match['row'], match['fa']))
    return cells


def model_results(model: dict,
                  protocol: Optional[str] = None,
                  source: Optional[str] = None) -> List[dict]:
    """The model's ``Results`` entries, optionally of one protocol / source."""
    found = []
    for result in model.get('Results') or []:
        res_protocol, res_source, _ = parse_task(result.get('Task'))
        if protocol not in (None, res_protocol):
            continue
        if source not in (None, res_source):
            continue
        found.append(result)
    return found
