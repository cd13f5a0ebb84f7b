# Copyright (c) mmfa contributors. All rights reserved.
import logging
from typing import List, Optional, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmfa.models.memories import FeatureBank
from mmfa.registry import HOOKS

__all__ = ['FeatureBankHook']


@HOOKS.register_module()
class FeatureBankHook(Hook):
    """Warm-up switch and logging of the feature banks of the NN FA methods.

    Zhang et al., "Feature Augmentation for Self-supervised Contrastive Learning: A
    Closer Look", arXiv:2410.12396 (NN and NN-noise FA, docs/design.md §5).

    The model writes its banks itself: its training ``loss()`` enqueues the step's
    positive-view projections after every query of the step. This hook only owns
    what belongs to the training loop:

    - ``before_train``: finds every :class:`~mmfa.models.memories.FeatureBank` of the
      (unwrapped) model and enables its queries iff ``runner.iter >= warmup_iters``
      (so a resumed run continues where it stopped). A warm-up as long as the
      whole training (``warmup_iters >= max_iters``) is an error: FA would never
      run.
    - ``after_train_iter``: updates the warm-up switch for the next iteration;
      every ``log_interval`` iterations writes ``bank/fill_ratio`` and
      ``bank/top1_sim`` (mean top-1 cosine similarity of the last query) to the
      message hub, so they appear in the training log (``bank<i>/...`` when the
      model holds several banks). After the first iteration it warns once if a
      bank received nothing (a model that never calls ``enqueue_for_bank``).

    Without the hook the banks are still written and queried (no warm-up, no
    logged scalars). Add it with ``custom_hooks = [dict(type='FeatureBankHook')]``.
    mmfa's pre-training runtime (``configs/_base_/selfsup_runtime.py``) adds it with
    ``require_bank=False``, so that switching a config's FA method to NN is a
    one-key change; the hook then idles for models without a bank.

    Args:
        warmup_iters (int): Iterations during which the banks are filled but not
            queried (the NN methods return un-augmented features). Defaults to 0.
        log_interval (int): Interval, in iterations, of the logged scalars.
            Defaults to 1.
        require_bank (bool): Raise if the model has no FeatureBank (a hook added
            by mistake). False makes the hook idle for such models. Defaults to
            True.
    """

    priority = 'NORMAL'

    def __init__(self,
                 warmup_iters: int = 0,
                 log_interval: int = 1,
                 require_bank: bool = True) -> None:
        if not isinstance(warmup_iters, int) or warmup_iters < 0:
            raise ValueError('FeatureBankHook: warmup_iters must be an int >= 0, '
                             f'got {warmup_iters!r}.')
        if not isinstance(log_interval, int) or log_interval < 1:
            raise ValueError('FeatureBankHook: log_interval must be a positive '
                             f'int, got {log_interval!r}.')
        self.warmup_iters = warmup_iters
        self.log_interval = log_interval
        self.require_bank = require_bank
        self._banks: Optional[List[Tuple[str, FeatureBank]]] = None
        # num_received of each bank before the first iteration (None: not checked)
        self._received_at_start: Optional[List[int]] = None

    def _find_banks(self, runner) -> List[Tuple[str, FeatureBank]]:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        banks = [(name, m) for name, m in model.named_modules()
                 if isinstance(m, FeatureBank)]
        if not banks and self.require_bank:
            raise RuntimeError(
                'FeatureBankHook: the model has no FeatureBank: remove '
                'FeatureBankHook from custom_hooks or use an NN FA method '
                '(NearestNeighborFA or MixupNoiseFA with noise="nn").')
        return banks

    def _set_enabled(self, next_iter: int) -> None:
        for _, bank in self._banks:
            bank.query_enabled = next_iter >= self.warmup_iters

    def before_train(self, runner) -> None:
        self._banks = self._find_banks(runner)
        max_iters = getattr(runner, 'max_iters', None)
        if (self._banks and isinstance(max_iters, int)
                and self.warmup_iters >= max_iters):
            # The banks would never be queried: a run "with FA" trained without.
            raise ValueError(
                f'FeatureBankHook: warmup_iters={self.warmup_iters} but training '
                f'has only {max_iters} iterations, so the warm-up never ends and '
                'nearest-neighbour FA never runs; set warmup_iters below '
                f'{max_iters} (e.g. custom_hooks=[dict(type="FeatureBankHook", '
                'warmup_iters=...)]).')
        self._set_enabled(runner.iter)
        self._received_at_start = [b.num_received for _, b in self._banks]

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self._banks is None:  # before_train was not called
            self._banks = self._find_banks(runner)
        if self._received_at_start is not None:
            for (name, bank), start in zip(self._banks,
                                           self._received_at_start):
                if bank.num_received == start:
                    print_log(
                        f'FeatureBankHook: FeatureBank "{name}" received no '
                        'features in the first training iteration; the model '
                        'must call head.enqueue_for_bank(...) (or '
                        'bank.enqueue(...)) with the positive-view projections '
                        'at the end of its training loss.',
                        logger='current',
                        level=logging.WARNING)
            self._received_at_start = None
        # runner.iter is incremented after this hook: the next iteration is iter + 1.
        self._set_enabled(runner.iter + 1)
        if self.every_n_train_iters(runner, self.log_interval):
            several = len(self._banks) > 1
            for i, (_, bank) in enumerate(self._banks):
                prefix = f'train/bank{i}' if several else 'train/bank'
                runner.message_hub.update_scalar(f'{prefix}/fill_ratio',
                                                 bank.fill_ratio)
                top1 = bank.last_top1_sim
                if top1 == top1:  # nan until the bank was queried
                    runner.message_hub.update_scalar(f'{prefix}/top1_sim', top1)
