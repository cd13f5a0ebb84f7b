# Copyright (c) mmfa contributors. All rights reserved.
import inspect
import itertools
import logging
from typing import Iterable, Iterator, List, Tuple

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader, IterableDataset

from mmfa.registry import LOOPS

__all__ = ['ResumableEpochBasedTrainLoop']


class _SkipFirstBatches:
    """A batch sampler yielding the batches of ``batch_sampler`` from ``skip`` on.

    Only indices are skipped, so the skipped samples are never loaded. The wrapped
    sampler is iterated afresh each time, so it must already be seeded for the epoch
    (``DistSamplerSeedHook.before_train_epoch`` does that before the first batch).
    """

    def __init__(self, batch_sampler: Iterable[List[int]], skip: int) -> None:
        self.batch_sampler = batch_sampler
        self.skip = skip

    def __iter__(self) -> Iterator[List[int]]:
        return itertools.islice(iter(self.batch_sampler), self.skip, None)

    def __len__(self) -> int:
        return max(len(self.batch_sampler) - self.skip, 0)


def _dataloader_skipping(dataloader: DataLoader,
                         skip: int) -> Tuple[Iterable, bool]:
    """An iterable over the batches of one epoch of ``dataloader`` after ``skip``,
    and whether the skipped batches are skipped without being loaded.

    For a map-style ``DataLoader`` with a batch sampler this is a temporary
    ``DataLoader`` with the same dataset, collate function and worker settings whose
    batch sampler drops the first ``skip`` index batches (as accelerate's
    ``skip_first_batches``); ``persistent_workers`` is off so its workers end with
    the epoch. Anything else falls back to loading and discarding ``skip`` batches.
    """
    if (isinstance(dataloader, DataLoader)
            and dataloader.batch_sampler is not None
            and not isinstance(dataloader.dataset, IterableDataset)):
        kwargs = dict(
            dataset=dataloader.dataset,
            batch_sampler=_SkipFirstBatches(dataloader.batch_sampler, skip),
            num_workers=dataloader.num_workers,
            collate_fn=dataloader.collate_fn,
            pin_memory=dataloader.pin_memory,
            timeout=dataloader.timeout,
            worker_init_fn=dataloader.worker_init_fn,
            multiprocessing_context=dataloader.multiprocessing_context,
            generator=dataloader.generator,
            prefetch_factor=dataloader.prefetch_factor,
            persistent_workers=False,
            pin_memory_device=getattr(dataloader, 'pin_memory_device', ''),
            in_order=getattr(dataloader, 'in_order', True))
        # Older torch versions lack some keyword arguments (e.g. in_order).
        accepted = inspect.signature(DataLoader.__init__).parameters
        return DataLoader(
            **{k: v
               for k, v in kwargs.items() if k in accepted}), True
    return itertools.islice(iter(dataloader), skip, None), False


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that resumes a mid-epoch checkpoint mid-epoch.

    mmengine's ``Runner.resume`` restores ``_epoch`` and ``_iter`` from the
    checkpoint meta; a checkpoint saved inside an epoch (``by_epoch=False``, e.g. by
    :class:`~mmfa.engine.hooks.PreemptionCheckpointHook` or an iteration-based
    ``CheckpointHook``) has ``epoch = e`` (the epoch in progress) and
    ``iter = i > e * len(dataloader)``. mmengine 0.10.7's loop then restarts epoch
    ``e`` from its first batch, so the resumed run trains on the ``i - e * len``
    completed batches again and overruns the iteration schedule (``max_iters``,
    iteration-based LR schedules). This loop, on the first epoch after such a
    resume, skips exactly those completed batches (their indices are drawn but the
    samples are neither loaded nor fed to the model), logs how many, and passes the
    original batch indices on to the hooks. The sampler is re-seeded by
    ``DistSamplerSeedHook`` for epoch ``e`` as in the interrupted run, so the rest of
    the epoch sees the same samples the interrupted run would have seen. Otherwise it
    is identical to ``EpochBasedTrainLoop``.

    Used by the mmfa pre-training schedules of Zhang et al., "Feature Augmentation
    for Self-supervised Contrastive Learning: A Closer Look", arXiv:2410.12396, which
    run for days and are preempted on shared clusters.

    Args:
        runner (Runner): A reference of runner.
        dataloader (DataLoader | dict): A dataloader object or its config.
        max_epochs (int): Total training epochs.
        val_begin (int): The epoch that begins validating. Defaults to 1.
        val_interval (int): Validation interval. Defaults to 1.
        dynamic_intervals (list[tuple[int, int]], optional): See
            ``EpochBasedTrainLoop``. Defaults to None.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._resume_offset_checked = False

    def _completed_batches_of_epoch(self) -> int:
        """Batches of the current epoch already trained before a resume."""
        epoch_len = len(self.dataloader)
        completed = self._iter - self._epoch * epoch_len
        if not 0 <= completed <= epoch_len:
            raise ValueError(
                f'ResumableEpochBasedTrainLoop: the resumed state (epoch '
                f'{self._epoch}, iter {self._iter}) does not fit an epoch of '
                f'{epoch_len} iterations: iter must lie in [epoch * {epoch_len}, '
                f'(epoch + 1) * {epoch_len}]. The number of iterations per epoch '
                'changed since the checkpoint was saved (dataset size, batch '
                'size or number of processes); resume with the same settings, or '
                'start from the weights only with `load_from` instead of '
                '`--resume`.')
        return completed

    def run_epoch(self) -> None:
        """Iterate one epoch, skipping the batches completed before a resume."""
        skip = 0
        if not self._resume_offset_checked:
            # Only the first epoch run by this loop can be a partial one.
            self._resume_offset_checked = True
            skip = self._completed_batches_of_epoch()
        if skip == 0:
            return super().run_epoch()

        # The body of EpochBasedTrainLoop.run_epoch, over the remaining batches.
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        epoch_len = len(self.dataloader)
        if skip < epoch_len:
            batches, by_index = _dataloader_skipping(self.dataloader, skip)
        else:
            batches, by_index = (), True
        print_log(
            f'ResumableEpochBasedTrainLoop: resuming inside epoch '
            f'{self._epoch + 1} at iteration {self._iter}: skipping the {skip} '
            f'of {epoch_len} batches of this epoch trained before the checkpoint'
            + ('' if by_index else
               ' (the dataloader is not a map-style DataLoader with a batch '
               'sampler: the skipped batches are loaded and discarded)') + '.',
            logger='current',
            level=logging.INFO)
        for idx, data_batch in enumerate(batches, start=skip):
            self.run_iter(idx, data_batch)

        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
