# Copyright (c) mmfa contributors. All rights reserved.
import copy
import itertools
from typing import Optional

import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.engine.hooks.precise_bn_hook import scaled_all_reduce
from torch.nn.modules.batchnorm import _BatchNorm

from mmfa.registry import HOOKS


@torch.no_grad()
def update_bn_stats_train_mode(model: torch.nn.Module, dataloader,
                               num_iters: int) -> int:
    """Recompute BN running statistics as the mean of ``num_iters`` batch statistics.

    Like detectron2's (fvcore's) ``update_bn_stats``: the model runs in *training*
    mode (``mode='loss'``, losses discarded), so a detector's RoI head sees the same
    sampled proposals as during training; each BN's running mean/var becomes the
    average of the per-batch mean/var, then the average over ranks.

    Args:
        model (nn.Module): The (possibly wrapped) model, in training mode.
        dataloader: The training dataloader.
        num_iters (int): Batches to average.

    Returns:
        int: The number of BN layers updated.
    """
    if is_model_wrapper(model):
        model = model.module
    bns = [
        m for m in model.modules() if isinstance(m, _BatchNorm) and m.training
    ]
    if not bns:
        return 0
    means = [torch.zeros_like(bn.running_mean) for bn in bns]
    variances = [torch.zeros_like(bn.running_var) for bn in bns]
    momentums = [bn.momentum for bn in bns]
    for bn in bns:
        # Momentum 1 makes the running stats equal the last batch's stats.
        bn.momentum = 1.0
    done = 0
    for data in itertools.islice(dataloader, num_iters):
        data = model.data_preprocessor(data, True)
        model(**data, mode='loss')
        done += 1
        for i, bn in enumerate(bns):
            means[i] += bn.running_mean
            variances[i] += bn.running_var
    if done == 0:
        raise RuntimeError('The dataloader yielded no batch for precise BN.')
    world_size = get_world_size()
    means = scaled_all_reduce([m / done for m in means], world_size)
    variances = scaled_all_reduce([v / done for v in variances], world_size)
    for bn, mean, var, momentum in zip(bns, means, variances, momentums):
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.momentum = momentum
    return len(bns)


@HOOKS.register_module()
class DetPreciseBNHook(Hook):
    """Precise BN before evaluation, as detectron2's ``TEST.PRECISE_BN``.

    The MoCo detection protocol (``Base-RCNN-C4-BN.yaml``) recomputes the BN
    statistics of the SyncBN backbone and RoI head over 200 training iterations
    before each evaluation; Zhang et al., "Feature Augmentation for Self-supervised
    Contrastive Learning: A Closer Look", arXiv:2410.12396 (Table VI) use that
    protocol. What the library lacks: mmpretrain's ``PreciseBNHook`` does not fit a
    detector (it runs the model in ``'tensor'`` mode, i.e. test-time proposals, and
    reads ``loader.batch_size``, which is None with mmdet's
    ``AspectRatioBatchSampler``), and mmdet has none. Detection configs
    (``default_scope='mmdet'``) find it after importing
    :mod:`mmfa.evaluation.det_transfer`.

    Runs after the last training iteration and, if ``interval`` > 0, every
    ``interval`` iterations (as detectron2 does at every evaluation), with priority
    above ``CheckpointHook`` so checkpoints hold the updated statistics. The batches
    come from a *new* dataloader built from ``train_dataloader`` (as detectron2
    builds one): a second iterator over the running one would disturb it
    (mmdet's ``AspectRatioBatchSampler`` keeps its buckets on the sampler object,
    shared by all its iterators, and loops forever when two are interleaved).

    Args:
        num_iters (int): Training batches per rank to average. Defaults to 200.
        interval (int): Also run every ``interval`` iterations; 0 only at the end.
            Defaults to 0.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, num_iters: int = 200, interval: int = 0) -> None:
        if num_iters < 1 or interval < 0:
            raise ValueError('DetPreciseBNHook needs num_iters >= 1 and '
                             f'interval >= 0, got {num_iters}, {interval}.')
        self.num_iters = num_iters
        self.interval = interval

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not (self.is_last_train_iter(runner) or
                (self.interval > 0
                 and self.every_n_train_iters(runner, self.interval))):
            return
        print_log(
            f'Precise BN: averaging BN statistics over {self.num_iters} '
            'training iterations', logger='current')
        dataloader = runner.build_dataloader(
            copy.deepcopy(runner.cfg.train_dataloader), seed=runner.seed)
        count = update_bn_stats_train_mode(runner.model, dataloader,
                                           self.num_iters)
        print_log(f'Precise BN: updated {count} BN layers', logger='current')
