# Copyright (c) mmfa contributors. All rights reserved.
"""Helpers that write datasets in mmpretrain's ImageNet-style layout
(``<split>/<class>/<file>`` plus ``meta/<split>.txt`` with ``<relative path> <label>``
lines), shared by mmfa's offline data generators (Zhang et al., arXiv:2410.12396 is
evaluated on ImageNet; these small sets stand in for it when offline).
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, Iterable, Iterator, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'imwrite_rgb', 'write_ann_file', 'write_class_list', 'prepare_output',
    'progress_iter', 'check_split_name'
]

MARKER = '.mmfa_dataset.json'


def check_split_name(split: str, valid: Iterable[str]) -> None:
    """Raise a ValueError naming the valid splits if ``split`` is not one."""
    if split not in valid:
        raise ValueError(f'Unknown split "{split}"; valid splits are '
                         f'{sorted(valid)}.')


def imwrite_rgb(path: str, img: np.ndarray) -> None:
    """Write an RGB uint8 image (PNG or JPEG by extension; JPEG quality 95).

    cv2's encoders are deterministic, so one array gives byte-identical files.
    """
    params = []
    if path.lower().endswith(('.jpg', '.jpeg')):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    bgr = np.ascontiguousarray(img[..., ::-1]) if img.ndim == 3 else img
    if not cv2.imwrite(path, bgr, params):
        raise IOError(f'cv2 could not write the image {path}; check that the '
                      'folder exists and is writable.')


def write_ann_file(path: str, samples: Sequence[Tuple[str, int]]) -> None:
    """Write ``<relative path> <label>`` lines (mmpretrain's ``ann_file`` format)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    for rel, _ in samples:
        if ' ' in rel:
            raise ValueError(f'"{rel}" contains a space, which mmpretrain\'s '
                             'annotation format cannot represent.')
    with open(path, 'w') as f:
        f.write(''.join(f'{rel} {int(label)}\n' for rel, label in samples))


def write_class_list(path: str, classes: Sequence[str]) -> None:
    """Write one class name a line (usable as mmpretrain's ``classes=<file>``)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{c}\n' for c in classes))


def prepare_output(root: str,
                   subdirs: Sequence[str],
                   params: Dict,
                   overwrite: bool = False,
                   finished: bool = False) -> bool:
    """Make ``root`` ready for a generator, or tell that it is already done.

    A marker file ``root/.mmfa_dataset.json`` records the generator's parameters once
    a set is complete. A complete set with the same parameters is kept (returns True,
    so re-running a quickstart costs nothing); an older mmfa set is removed before
    regeneration; folders that mmfa did not write are never deleted (error instead).

    Args:
        root (str): The dataset folder.
        subdirs (Sequence[str]): The sub-folders the generator writes.
        params (dict): The generator's parameters (JSON-serialisable).
        overwrite (bool): Regenerate a complete, identical set anyway.
        finished (bool): Call with True after writing, to record the marker.

    Returns:
        bool: True when the set is complete and nothing needs writing.
    """
    marker = osp.join(root, MARKER)
    if finished:
        with open(marker, 'w') as f:
            json.dump(dict(params=params, complete=True), f, sort_keys=True)
        return True
    info = None
    if osp.isfile(marker):
        with open(marker) as f:
            info = json.load(f)
        if (not overwrite and info.get('complete')
                and info.get('params') == params):
            return True
    existing = [d for d in subdirs if osp.exists(osp.join(root, d))]
    if existing and info is None:
        raise FileExistsError(
            f'{root} already contains {existing}, not written by an mmfa '
            'generator; choose an empty or new output folder, or remove them.')
    for d in existing:
        shutil.rmtree(osp.join(root, d))
    if info is not None:
        os.remove(marker)
    os.makedirs(root, exist_ok=True)
    return False


def progress_iter(iterable: Iterable,
                  desc: str,
                  enable: bool = True) -> Iterator:
    """Wrap ``iterable`` in a tqdm progress bar (pass-through when disabled)."""
    if not enable:
        return iter(iterable)
    from tqdm import tqdm
    return iter(tqdm(iterable, desc=desc, unit='img', dynamic_ncols=True))
