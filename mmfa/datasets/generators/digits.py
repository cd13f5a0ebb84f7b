# Copyright (c) mmfa contributors. All rights reserved.
"""scikit-learn's digits (8x8 grey, 1797 images, shipped with scikit-learn: no
download) as a small real dataset in mmpretrain's ImageNet-style layout, for offline
runs of the linear / kNN evaluations of Zhang et al., "Feature Augmentation for
Self-supervised Contrastive Learning: A Closer Look", arXiv:2410.12396, 2024.
"""
import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np

from .layout import (imwrite_rgb, prepare_output, progress_iter,
                     write_ann_file, write_class_list)

__all__ = ['DIGITS_CLASSES', 'digits_split', 'generate_digits_cls']

DIGITS_CLASSES = tuple(str(i) for i in range(10))


def digits_split(labels: np.ndarray, val_ratio: float,
                 seed: int) -> np.ndarray:
    """Deterministic stratified split.

    Args:
        labels (np.ndarray): Labels of all samples.
        val_ratio (float): Fraction of each class that goes to val, in [0, 1).
        seed (int): Seed of the per-class shuffles.

    Returns:
        np.ndarray: Boolean mask, True for validation samples. Each class gives
        ``round(n_c * val_ratio)`` samples to val, so both splits keep the class
        proportions.
    """
    if not 0 <= val_ratio < 1:
        raise ValueError(f'val_ratio must be in [0, 1), got {val_ratio}.')
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        is_val[idx[:int(round(len(idx) * val_ratio))]] = True
    return is_val


def generate_digits_cls(root: str,
                        img_size: int = 32,
                        val_ratio: float = 0.2,
                        seed: int = 0,
                        overwrite: bool = False,
                        progress: bool = True) -> Dict:
    """Write sklearn's digits as ``root/{train,val}/<digit>/<digit>_<index>.png``.

    The 8x8 images (values 0..16) are scaled to 0..255, upscaled with bilinear
    interpolation to ``img_size`` and replicated to 3 channels (RGB PNGs).
    ``<index>`` is the sample's index in ``sklearn.datasets.load_digits()``.
    ``meta/{train,val}.txt`` and ``meta/classes.txt`` as in
    :func:`mmfa.datasets.generate_shapes_cls`.

    Args:
        root (str): Output folder.
        img_size (int): Output image side. Defaults to 32.
        val_ratio (float): Per-class fraction of validation images.
        seed (int): Seed of the split.
        overwrite (bool): Regenerate even if an identical set is there.
        progress (bool): Show a progress bar.

    Returns:
        dict: ``data_root``, ``classes``, ``ann_files``, ``skipped``.
    """
    from sklearn.datasets import load_digits
    if img_size < 8:
        raise ValueError(f'img_size must be >= 8 (the digits are 8x8), got '
                         f'{img_size}.')
    params = dict(
        kind='digits', img_size=img_size, val_ratio=val_ratio, seed=seed)
    result = dict(
        data_root=root,
        classes=DIGITS_CLASSES,
        ann_files={
            s: osp.join(root, 'meta', f'{s}.txt')
            for s in ('train', 'val')
        })
    digits = load_digits()
    labels = digits.target.astype(np.int64)
    is_val = digits_split(labels, val_ratio, seed)
    if prepare_output(root, ['train', 'val', 'meta'], params, overwrite):
        return dict(result, skipped=True)
    for split in ('train', 'val'):
        for name in DIGITS_CLASSES:
            os.makedirs(osp.join(root, split, name), exist_ok=True)
    samples = dict(train=[], val=[])
    for i in progress_iter(range(len(labels)), 'digits', enable=progress):
        grey = np.clip(digits.images[i] * (255.0 / 16.0), 0, 255)
        grey = cv2.resize(
            grey.astype(np.float32), (img_size, img_size),
            interpolation=cv2.INTER_LINEAR)
        img = np.repeat(
            np.round(grey).astype(np.uint8)[..., None], 3, axis=2)
        split = 'val' if is_val[i] else 'train'
        name = DIGITS_CLASSES[labels[i]]
        rel = f'{name}/{name}_{i:04d}.png'
        imwrite_rgb(osp.join(root, split, rel), img)
        samples[split].append((rel, int(labels[i])))
    for split in ('train', 'val'):
        write_ann_file(result['ann_files'][split], samples[split])
    write_class_list(osp.join(root, 'meta', 'classes.txt'), DIGITS_CLASSES)
    prepare_output(root, [], params, finished=True)
    return dict(result, skipped=False)
