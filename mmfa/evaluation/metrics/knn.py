# Copyright (c) mmfa contributors. All rights reserved.
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric

from mmfa.registry import METRICS
from ..functional.knn import knn_classify


@METRICS.register_module()
class KNNAccuracy(BaseMetric):
    """Weighted kNN top-k accuracy of frozen features (InstDisc / DINO protocol).

    The metric holds a *memory*: l2-normalised features and labels of the train
    set, given with :meth:`set_memory` (``tools/analysis_tools/knn_eval.py`` builds
    it by running the backbone over the train dataloader with the test pipeline).
    :meth:`process` collects the query features, each data sample being a dict with
    ``feats`` (1-D tensor, e.g. the global-average-pooled backbone output) and
    ``gt_label``; :meth:`compute_metrics` classifies them with
    :func:`mmfa.evaluation.functional.knn_classify` (cosine similarity, weights
    ``exp(s / T)``) for every ``k``.

    Used for the kNN companion of the linear probe in Zhang et al., "Feature
    Augmentation for Self-supervised Contrastive Learning: A Closer Look",
    arXiv:2410.12396.

    Args:
        k (int | Sequence[int]): Neighbour counts to evaluate. Defaults to
            ``(10, 20, 100, 200)``; k=200 with T=0.07 is the headline number.
        T (float): Temperature. Defaults to 0.07.
        topk (Sequence[int]): Accuracies to report. Defaults to ``(1, 5)``.
            A ``topk`` above the number of classes counts every sample correct.
        num_classes (int, optional): Defaults to the largest label seen + 1.
        chunk_size (int): Query chunk size of ``knn_classify``. Defaults to 256.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'knn'.

    Results are percentages under the keys ``top{t}_k{k}``, e.g. ``knn/top1_k200``.
    """
    default_prefix: Optional[str] = 'knn'

    def __init__(self,
                 k: Union[int, Sequence[int]] = (10, 20, 100, 200),
                 T: float = 0.07,
                 topk: Sequence[int] = (1, 5),
                 num_classes: Optional[int] = None,
                 chunk_size: int = 256,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ks = (k, ) if isinstance(k, int) else tuple(k)
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f'k must be positive integers, got {k}.')
        if T <= 0:
            raise ValueError(f'T must be positive, got {T}.')
        self.T = T
        self.topk = tuple(topk)
        self.num_classes = num_classes
        self.chunk_size = chunk_size
        self.memory_feats: Optional[torch.Tensor] = None
        self.memory_labels: Optional[torch.Tensor] = None

    def set_memory(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """Set the train-set memory.

        Args:
            feats (Tensor): (N, D) features; l2-normalised here.
            labels (Tensor): (N,) integer labels.
        """
        if feats.dim() != 2 or feats.shape[0] != labels.numel():
            raise ValueError('set_memory expects (N, D) features and N labels, '
                             f'got {tuple(feats.shape)} and {labels.numel()}.')
        self.memory_feats = torch.nn.functional.normalize(feats.float(), dim=1)
        self.memory_labels = labels.reshape(-1).long().to(feats.device)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Collect query features and labels.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): Dicts (or data samples) with ``feats``
                and ``gt_label``.
        """
        for sample in data_samples:
            feats = sample.get('feats', None)
            if feats is None:
                raise KeyError("KNNAccuracy needs 'feats' in every data sample "
                               '(the pooled backbone features); got keys '
                               f'{list(sample.keys())}.')
            label = torch.as_tensor(sample.get('gt_label')).reshape(-1)[:1]
            self.results.append(
                dict(feats=feats.detach().reshape(-1).float().cpu(),
                     gt_label=label.long().cpu()))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Classify the collected queries against the memory.

        Args:
            results (list[dict]): The collected ``feats``/``gt_label`` dicts.

        Returns:
            dict: ``top{t}_k{k}`` accuracies in percent.
        """
        if self.memory_feats is None:
            raise RuntimeError(
                'KNNAccuracy has no memory: call set_memory(train_feats, '
                'train_labels) before evaluating (tools/analysis_tools/'
                'knn_eval.py does this).')
        if not results:
            raise RuntimeError('KNNAccuracy received no query features.')
        # The memory is normalised once in set_memory; normalise the queries here
        # so knn_classify need not copy the (possibly ImageNet-sized) memory.
        feats = torch.nn.functional.normalize(
            torch.stack([r['feats'] for r in results]), dim=1)
        labels = torch.cat([r['gt_label'] for r in results])
        num_classes = self.num_classes or int(
            max(self.memory_labels.max(), labels.max())) + 1
        labels = labels.to(self.memory_feats.device)
        metrics = {}
        for k in self.ks:
            scores = knn_classify(
                self.memory_feats,
                self.memory_labels,
                feats,
                k=k,
                T=self.T,
                num_classes=num_classes,
                chunk_size=self.chunk_size,
                normalize=False)
            for t in self.topk:
                pred = scores.topk(min(t, num_classes), dim=1)[1]
                correct = (pred == labels[:, None]).any(dim=1).float()
                metrics[f'top{t}_k{k}'] = correct.mean().item() * 100
        return metrics
