# Copyright (c) mmfa contributors. All rights reserved.
"""Online weighted-kNN accuracy of the backbone during self-supervised training."""
import contextlib
import copy
import random
import time
import warnings
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.dist import broadcast_object_list, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmfa.evaluation.functional.knn import extract_features, knn_classify
from mmfa.registry import DATASETS, HOOKS, MODELS

__all__ = ['KNNMonitorHook']


@contextlib.contextmanager
def _preserved_rng(device: torch.device):
    """Restore the global torch (CPU and ``device``), numpy and python RNG states.

    Iterating a ``DataLoader`` draws its base seed from the global torch RNG (even
    with ``num_workers=0``), and a pipeline may draw from numpy / ``random``: the
    monitor must not shift the random stream of the training.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()
    cpu_state = torch.get_rng_state()
    device_mod = (torch.get_device_module(device.type)
                  if device.type != 'cpu' else None)
    device_state = (device_mod.get_rng_state(device)
                    if device_mod is not None else None)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(cpu_state)
        if device_mod is not None:
            device_mod.set_rng_state(device_state, device)


def _module_device(module: nn.Module, fallback: nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return getattr(fallback, 'device', torch.device('cpu'))


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """Weighted-kNN accuracy of the model's features, logged during pre-training.

    A cheap online probe of representation quality for self-supervised training
    (Zhang et al., "Feature Augmentation for Self-supervised Contrastive Learning: A
    Closer Look", arXiv:2410.12396): every ``interval`` epochs (or iterations), the
    features of a small labelled *memory* split and of a *query* split are extracted
    with the current weights, and each query is classified by the InstDisc / DINO
    weighted kNN (:func:`mmfa.evaluation.functional.knn_classify`: cosine similarity
    of l2-normalised features, the ``k`` nearest memory samples vote with weights
    ``exp(sim / temperature)``). The top-t accuracies (percent) are logged as
    ``{prefix}/top{t}``.

    Features: the module ``feature_module`` of the (unwrapped, for DDP) model is
    called on the normalised images; the last element of a tuple/list output is
    taken and a 4-D map is global-average-pooled, as in
    ``tools/analysis_tools/knn_eval.py`` (both use
    :func:`mmfa.evaluation.functional.knn.extract_features`).

    Normalisation: the model's own ``data_preprocessor`` is *not* called (mmfa's
    :class:`BatchViewAugmentor` would augment the images). A plain mmpretrain
    ``ClsDataPreprocessor`` is built with the model preprocessor's ``mean``,
    ``std``, channel conversion (``_channel_conversion`` of mmengine's
    ``ImgDataPreprocessor``, or ``to_rgb``) and padding, on the model's device;
    ``data_preprocessor`` overrides it with an explicit config.

    Side effects: none on the training. Extraction runs under ``torch.no_grad()``
    with the feature module in eval mode (BN uses its running statistics, dropout is
    off), then the train/eval flag of every submodule is restored one by one (a
    submodule kept in eval mode, e.g. a frozen stem, stays so). Parameters,
    ``.grad`` and BN buffers are not written, and the global torch (CPU and model
    device), numpy and ``random`` RNG states are restored afterwards (iterating a
    DataLoader draws a seed from the global torch RNG), so a run with the monitor
    trains exactly as one without it.

    Distributed training: rank 0 alone extracts the features of the *whole* splits
    (the loaders have no distributed sampler) and computes the accuracies, which it
    sends with :func:`mmengine.dist.broadcast_object_list`; the other ranks wait in
    that broadcast, so every rank logs (message hub) the same numbers. With BN (and
    SyncBN, whose eval mode needs no communication) in eval mode the features
    depend only on the weights, which DDP keeps identical on all ranks. An error on
    rank 0 is sent as well and raised on every rank (no rank hangs). The splits
    should thus be small (a few thousand images): the other ranks idle meanwhile,
    and a wait longer than the process-group timeout would abort the run.

    Logging: ``runner.message_hub.update_scalar`` (saved in checkpoints),
    ``runner.visualizer.add_scalars`` with ``step`` = the number of finished
    iterations, into ``vis_data/scalars.json`` and ``vis_data/<timestamp>.json``
    (the file of :class:`~mmengine.hooks.LoggerHook`) of the ``LocalVisBackend``
    and any other backend (TensorBoard, ...), and one ``runner.logger.info`` line.
    mmengine's ``LogProcessor`` only prints message-hub scalars whose key starts
    with the loop name (``train...``) and ``LoggerHook`` writes them only in
    ``after_train_iter``: a value computed after the last iteration of an epoch
    would appear (stale) one epoch later, or never after the last epoch. So the
    hook writes its own json line and log line; do not give a ``prefix`` starting
    with ``train``, or the value is also repeated in every later training log line.

    Cost: one evaluation is a forward pass over ``N_mem + N_query`` images (plus
    their loading), about ``(N_mem + N_query) / (6 * N_train)`` of a two-view
    pre-training epoch (forward + backward ~ 3 forwards per view). Keep it to a few
    per cent with ``interval`` and ``max_samples``: e.g. the quickstart (1800 train
    images) with a 600-image memory and its 360 val images at ``interval=5`` spends
    about 2 % of the compute on the monitor. The monitor is off unless added.

    Example (the quickstart's shapes set; ``configs/_base_/selfsup_runtime.py``
    already sets ``custom_hooks``, and a list is replaced, not merged, so repeat
    its hooks)::

        test_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(32, 32)),
            dict(type='PackInputs'),
        ]
        knn_memory = dict(
            batch_size=128,
            num_workers=0,
            dataset=dict(type='CustomDataset', data_root='data/shapes/cls/',
                         ann_file='meta/train.txt', data_prefix='train',
                         pipeline=test_pipeline))
        knn_query = dict(
            batch_size=128,
            num_workers=0,
            dataset=dict(type='CustomDataset', data_root='data/shapes/cls/',
                         ann_file='meta/val.txt', data_prefix='val',
                         pipeline=test_pipeline))
        custom_hooks = [
            dict(type='FeatureBankHook', require_bank=False),
            dict(type='PreemptionCheckpointHook'),
            dict(type='KNNMonitorHook', train_dataloader=knn_memory,
                 val_dataloader=knn_query, interval=5, max_samples=600),
        ]

    Args:
        train_dataloader (dict | DataLoader): The labelled memory split. A config
            dict (``dataset``, ``batch_size``, optional ``num_workers``,
            ``collate_fn`` (default ``default_collate``)...) is built at
            ``before_train`` with :meth:`mmengine.runner.Runner.build_dataloader`
            in sequential order (its ``sampler`` / ``batch_sampler`` are replaced;
            use a deterministic test pipeline). An already-built loader is used
            as-is; it must not shard the data (no distributed sampler).
        val_dataloader (dict | DataLoader): The labelled query split, likewise.
        interval (int): Evaluate every ``interval`` epochs (``by_epoch=True``) or
            iterations. Defaults to 1.
        by_epoch (bool): Count ``interval`` in epochs (``after_train_epoch``)
            or in iterations (``after_train_iter``). Defaults to True.
        k (int): Number of neighbours (clamped to the memory size). Defaults to
            20.
        temperature (float): Temperature of the weights ``exp(sim / T)``.
            Defaults to 0.07.
        topk (Sequence[int]): Accuracies to log, e.g. ``(1, 5)``. Defaults to
            ``(1, )``.
        prefix (str): Prefix of the logged keys (``{prefix}/top1``). Defaults to
            'knn'.
        at_start (bool): Also evaluate before the first iteration of a fresh run
            (not when resuming), logged at epoch 0 / iteration 0: the
            random-initialisation point of the curve. Defaults to False.
        max_samples (int, optional): Use at most this many samples of each split:
            evenly spaced ones for a config (so that every class of a
            class-sorted list is represented), the first ones of a built loader.
            Defaults to None (all).
        feature_module (str): Dotted path of the feature module in the unwrapped
            model. Defaults to 'backbone'.
        data_preprocessor (dict, optional): Config of the preprocessor used
            instead of the one derived from the model (e.g.
            ``dict(type='ClsDataPreprocessor', mean=..., std=..., to_rgb=True)``).
            Defaults to None.
        chunk_size (int): Query chunk size of the similarity computation.
            Defaults to 256.
    """

    priority = 'NORMAL'  # before CheckpointHook: the checkpoint holds the value

    def __init__(self,
                 train_dataloader: Union[dict, torch.utils.data.DataLoader],
                 val_dataloader: Union[dict, torch.utils.data.DataLoader],
                 interval: int = 1,
                 by_epoch: bool = True,
                 k: int = 20,
                 temperature: float = 0.07,
                 topk: Sequence[int] = (1, ),
                 prefix: str = 'knn',
                 at_start: bool = False,
                 max_samples: Optional[int] = None,
                 feature_module: str = 'backbone',
                 data_preprocessor: Optional[dict] = None,
                 chunk_size: int = 256) -> None:

        def positive_int(name, value):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < 1:
                raise ValueError(f'KNNMonitorHook: {name} must be a positive '
                                 f'int, got {value!r}.')

        positive_int('interval', interval)
        positive_int('k', k)
        positive_int('chunk_size', chunk_size)
        if max_samples is not None:
            positive_int('max_samples', max_samples)
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not topk:
            raise ValueError('KNNMonitorHook: topk must not be empty.')
        for t in topk:
            positive_int('topk', t)
        if not temperature > 0:
            raise ValueError('KNNMonitorHook: temperature must be positive, '
                             f'got {temperature!r}.')
        if not isinstance(prefix, str) or not prefix:
            raise ValueError('KNNMonitorHook: prefix must be a non-empty str, '
                             f'got {prefix!r}.')
        for name, loader in (('train_dataloader', train_dataloader),
                             ('val_dataloader', val_dataloader)):
            if isinstance(loader, dict) and 'dataset' not in loader:
                raise ValueError(f'KNNMonitorHook: {name} needs a `dataset`.')
        self.train_dataloader = train_dataloader
        self.val_dataloader = val_dataloader
        self.interval = interval
        self.by_epoch = bool(by_epoch)
        self.k = k
        self.temperature = float(temperature)
        self.topk = topk
        self.prefix = prefix
        self.at_start = bool(at_start)
        self.max_samples = max_samples
        self.feature_module = feature_module
        self.data_preprocessor = data_preprocessor
        self.chunk_size = chunk_size
        self._loaders: Optional[Tuple] = None
        self._preprocessor: Optional[nn.Module] = None
        self._warned_k = False

    # ----------------------------------------------------------------------- #
    # set-up                                                                   #
    # ----------------------------------------------------------------------- #
    def _build_loader(self, loader, runner):
        from mmengine.runner import Runner
        if not isinstance(loader, dict):
            sampler = getattr(loader, 'sampler', None)
            shards = max(getattr(sampler, 'world_size', 1),
                         getattr(sampler, 'num_replicas', 1))
            if shards > 1:
                raise ValueError(
                    'KNNMonitorHook: a built dataloader with a distributed '
                    'sampler would only give rank 0 its shard of the split; '
                    'pass a dataloader config dict instead.')
            return loader
        cfg = copy.deepcopy(loader)
        dataset = cfg.pop('dataset')
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
            if hasattr(dataset, 'full_init'):
                dataset.full_init()
        num = len(dataset)
        if self.max_samples is not None and self.max_samples < num:
            # evenly spaced: every class of a class-sorted list is represented
            indices = [i * num // self.max_samples
                       for i in range(self.max_samples)]
        else:
            indices = list(range(num))
        for key in ('batch_sampler', 'num_batch_per_epoch', 'shuffle'):
            cfg.pop(key, None)
        cfg['dataset'] = dataset
        cfg['sampler'] = indices  # sequential, the same on every rank
        cfg['drop_last'] = False
        cfg.setdefault('batch_size', 1)
        cfg.setdefault('collate_fn', dict(type='default_collate'))
        if not cfg.get('num_workers'):
            cfg['persistent_workers'] = False
        return Runner.build_dataloader(cfg, seed=getattr(runner, 'seed', None))

    def _build_preprocessor(self, model: nn.Module,
                            device: torch.device) -> nn.Module:
        if self.data_preprocessor is not None:
            pre = MODELS.build(copy.deepcopy(self.data_preprocessor))
        else:
            from mmpretrain.models import ClsDataPreprocessor
            src = getattr(model, 'data_preprocessor', None)
            mean = std = None
            if src is not None and getattr(src, '_enable_normalize', False):
                mean = src.mean.detach().flatten().cpu().tolist()
                std = src.std.detach().flatten().cpu().tolist()
            to_rgb = getattr(src, '_channel_conversion', None)
            if to_rgb is None:
                to_rgb = getattr(src, 'to_rgb', False)
            pre = ClsDataPreprocessor(
                mean=mean,
                std=std,
                to_rgb=bool(to_rgb),
                pad_size_divisor=getattr(src, 'pad_size_divisor', 1),
                pad_value=getattr(src, 'pad_value', 0))
        return pre.to(device)

    def before_train(self, runner) -> None:
        """Build the monitor dataloaders; evaluate at iteration 0 if
        ``at_start``."""
        self._loaders = (self._build_loader(self.train_dataloader, runner),
                         self._build_loader(self.val_dataloader, runner))
        if self.at_start and runner.iter == 0:
            self._evaluate(runner, epoch=0, step=0)

    # ----------------------------------------------------------------------- #
    # triggers                                                                 #
    # ----------------------------------------------------------------------- #
    def after_train_epoch(self, runner) -> None:
        """Evaluate every ``interval`` epochs (``by_epoch=True``)."""
        if self.by_epoch and self.every_n_epochs(runner, self.interval):
            # runner.epoch is incremented after this hook; runner.iter before
            self._evaluate(runner, epoch=runner.epoch + 1, step=runner.iter)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Evaluate every ``interval`` iterations (``by_epoch=False``)."""
        if not self.by_epoch and self.every_n_train_iters(
                runner, self.interval):
            # runner.iter is incremented after this hook
            self._evaluate(runner, epoch=None, step=runner.iter + 1)

    # ----------------------------------------------------------------------- #
    # evaluation                                                               #
    # ----------------------------------------------------------------------- #
    def _compute(self, runner) -> dict:
        """Extract both splits and classify the queries (rank 0)."""
        if self._loaders is None:  # called outside runner.train()
            self._loaders = (self._build_loader(self.train_dataloader, runner),
                             self._build_loader(self.val_dataloader, runner))
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        module = model.get_submodule(self.feature_module) \
            if self.feature_module else model
        device = _module_device(module, getattr(model, 'data_preprocessor',
                                                None))
        if self._preprocessor is None:
            self._preprocessor = self._build_preprocessor(model, device)
        start = time.perf_counter()
        modes = [(m, m.training) for m in module.modules()]
        try:
            with _preserved_rng(device), torch.no_grad():
                module.eval()
                mem_feats, mem_labels = extract_features(
                    module, self._preprocessor, self._loaders[0], device,
                    self.max_samples)
                query_feats, query_labels = extract_features(
                    module, self._preprocessor, self._loaders[1], device,
                    self.max_samples)
                k = min(self.k, mem_feats.shape[0])
                if k < self.k and not self._warned_k:
                    warnings.warn(f'KNNMonitorHook: k={self.k} but the memory '
                                  f'has {k} samples: using k={k}.')
                    self._warned_k = True
                num_classes = int(torch.cat([mem_labels, query_labels]).max()) + 1
                # the features are l2-normalised by extract_features
                scores = knn_classify(
                    mem_feats,
                    mem_labels,
                    query_feats,
                    k=k,
                    T=self.temperature,
                    num_classes=num_classes,
                    chunk_size=self.chunk_size,
                    normalize=False)
                labels = query_labels.to(scores.device)
                metrics = {}
                for t in self.topk:
                    pred = scores.topk(min(t, num_classes), dim=1)[1]
                    correct = (pred == labels[:, None]).any(dim=1)
                    metrics[f'{self.prefix}/top{t}'] = \
                        correct.float().mean().item() * 100
        finally:
            # restore each flag as it was: module.train() would re-run
            # overridden train() methods (e.g. norm_eval / frozen stages)
            for m, training in modes:
                m.training = training
        return dict(
            metrics=metrics,
            num_memory=int(mem_feats.shape[0]),
            num_query=int(query_feats.shape[0]),
            k=k,
            seconds=time.perf_counter() - start)

    def _evaluate(self, runner, epoch: Optional[int], step: int) -> Dict:
        """Compute on rank 0, broadcast, log on every rank."""
        world_size = get_world_size()
        result = [None]
        error = None
        if get_rank() == 0:
            try:
                result[0] = self._compute(runner)
            except Exception as e:  # noqa: B902
                if world_size == 1:
                    raise
                error = e
                result[0] = dict(error=f'{type(e).__name__}: {e}')
        if world_size > 1:
            broadcast_object_list(result, src=0)
        if error is not None:
            raise error
        out = result[0]
        if 'error' in out:
            raise RuntimeError('KNNMonitorHook failed on rank 0: ' +
                               out['error'])
        metrics = out['metrics']
        for name, value in metrics.items():
            runner.message_hub.update_scalar(name, value)
        scalars = dict(metrics)
        if epoch is not None:
            scalars['epoch'] = epoch
        scalars['iter'] = step
        runner.visualizer.add_scalars(
            scalars, step=step, file_path=f'{runner.timestamp}.json')
        where = (f'Epoch(knn) [{epoch}]' if epoch is not None else
                 f'Iter(knn) [{step}]')
        values = '  '.join(f'{name}: {value:.4f}'
                           for name, value in metrics.items())
        runner.logger.info(
            f'{where}  {values}  (memory {out["num_memory"]}, queries '
            f'{out["num_query"]}, k={out["k"]}, T={self.temperature}, '
            f'{out["seconds"]:.2f} s)')
        return metrics
