# Copyright (c) mmfa contributors. All rights reserved.
"""Weighted k-nearest-neighbour classification of frozen features.

The protocol of InstDisc (Wu et al., 2018) and DINO (Caron et al., 2021), used as a
cheap companion to the linear probe of Zhang et al., "Feature Augmentation for
Self-supervised Contrastive Learning: A Closer Look", arXiv:2410.12396.
"""
import warnings
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

__all__ = ['extract_features', 'knn_classify']


@torch.no_grad()
def knn_classify(train_feats: torch.Tensor,
                 train_labels: torch.Tensor,
                 test_feats: torch.Tensor,
                 k: int = 200,
                 T: float = 0.07,
                 num_classes: Optional[int] = None,
                 chunk_size: int = 256,
                 normalize: bool = True) -> torch.Tensor:
    """Weighted kNN class scores of test features against a train-feature memory.

    For a test feature ``q`` (l2-normalised), take the ``k`` train features ``m_j``
    (l2-normalised) of highest cosine similarity ``s_j = q . m_j`` and score class
    ``c`` as ``sum_j [y_j == c] * exp(s_j / T)``. The prediction is the arg-max.

    Computed in chunks of test samples so that memory stays at
    ``chunk_size x len(train_feats)`` similarities, on the device of ``train_feats``.

    Args:
        train_feats (Tensor): (N, D) memory features.
        train_labels (Tensor): (N,) integer labels of the memory.
        test_feats (Tensor): (M, D) query features.
        k (int): Number of neighbours. Defaults to 200. Values above N are clamped
            to N with a warning.
        T (float): Temperature of the exponential weights. Defaults to 0.07.
        num_classes (int, optional): Number of classes; defaults to
            ``train_labels.max() + 1``.
        chunk_size (int): Test samples per chunk. Defaults to 256.
        normalize (bool): l2-normalise both feature sets first. Defaults to True.

    Returns:
        Tensor: (M, num_classes) class scores on the device of ``train_feats``.
    """
    if train_feats.dim() != 2 or test_feats.dim() != 2:
        raise ValueError('knn_classify expects 2-D (num_samples, dim) features, '
                         f'got train {tuple(train_feats.shape)} and test '
                         f'{tuple(test_feats.shape)}.')
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f'Feature dims differ: train {train_feats.shape[1]} vs '
                         f'test {test_feats.shape[1]}.')
    train_labels = train_labels.reshape(-1).long().to(train_feats.device)
    if train_labels.numel() != train_feats.shape[0]:
        raise ValueError(f'{train_labels.numel()} train labels for '
                         f'{train_feats.shape[0]} train features.')
    if k < 1 or T <= 0 or chunk_size < 1:
        raise ValueError(f'Need k >= 1, T > 0 and chunk_size >= 1, got k={k}, '
                         f'T={T}, chunk_size={chunk_size}.')
    num_train = train_feats.shape[0]
    if k > num_train:
        warnings.warn(f'kNN with k={k} but only {num_train} train samples: '
                      f'using k={num_train}.')
        k = num_train
    if num_classes is None:
        num_classes = int(train_labels.max()) + 1
    if normalize:
        train_feats = F.normalize(train_feats, dim=1)
    scores = []
    for start in range(0, test_feats.shape[0], chunk_size):
        query = test_feats[start:start + chunk_size].to(train_feats)
        if normalize:
            query = F.normalize(query, dim=1)
        sim, idx = (query @ train_feats.t()).topk(k, dim=1)
        weights = (sim / T).exp()
        chunk_scores = sim.new_zeros(query.shape[0], num_classes)
        chunk_scores.scatter_add_(1, train_labels[idx], weights)
        scores.append(chunk_scores)
    if not scores:
        return train_feats.new_zeros(0, num_classes)
    return torch.cat(scores)


@torch.no_grad()
def extract_features(backbone: torch.nn.Module,
                     preprocessor: torch.nn.Module,
                     dataloader,
                     device=None,
                     max_samples: Optional[int] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Global-average-pooled, l2-normalised features of the backbone's last output.

    Each batch is normalised by ``preprocessor`` (called with ``training=False``,
    e.g. an mmpretrain ``ClsDataPreprocessor``, which also moves it to its device),
    then fed to ``backbone``; a tuple/list output (e.g. ResNet's stages) gives its
    last element, a 4-D map is average-pooled over space. The caller sets the modes
    (``backbone.eval()`` for the kNN protocol); this runs under ``torch.no_grad()``.
    Used by ``tools/analysis_tools/knn_eval.py`` and
    :class:`mmfa.engine.hooks.KNNMonitorHook`.

    Args:
        backbone (nn.Module): The feature extractor.
        preprocessor (nn.Module): The data preprocessor.
        dataloader: Yields mmpretrain batches (``inputs``, ``data_samples`` with a
            ``gt_label``).
        device (torch.device, optional): Where to compute; defaults to the
            device the preprocessor puts the inputs on.
        max_samples (int, optional): Stop after this many samples (the first
            ones in the loader's order). Defaults to None (all).

    Returns:
        tuple[Tensor, Tensor]: (N, C) float features and (N,) labels, on ``device``.
    """
    feats, labels = [], []
    num = 0
    for data in dataloader:
        if max_samples is not None and num >= max_samples:
            break
        data = preprocessor(data, False)
        inputs = data['inputs'] if device is None else data['inputs'].to(device)
        out = backbone(inputs)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        if out.dim() == 4:
            out = F.adaptive_avg_pool2d(out, 1)
        samples = data.get('data_samples')
        if samples is None or any('gt_label' not in s for s in samples):
            raise KeyError('extract_features needs a `gt_label` in every data '
                           'sample (a labelled dataset packed by PackInputs).')
        feats.append(F.normalize(out.flatten(1).float(), dim=1))
        labels.append(
            torch.cat([s.gt_label.reshape(-1)[:1]
                       for s in samples]).to(feats[-1].device))
        num += feats[-1].shape[0]
    if not feats:
        raise RuntimeError('extract_features got an empty dataloader.')
    feats, labels = torch.cat(feats), torch.cat(labels)
    if max_samples is not None:
        feats, labels = feats[:max_samples], labels[:max_samples]
    return feats, labels
