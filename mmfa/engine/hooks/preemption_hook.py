# Copyright (c) mmfa contributors. All rights reserved.
import logging
import os
import os.path as osp
import signal
import sys
import threading
from typing import Callable, Iterable, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import all_reduce, barrier, get_rank, is_main_process
from mmengine.fileio import join_path
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.optim import OptimWrapperDict
from mmengine.runner import EpochBasedTrainLoop

from mmfa.registry import HOOKS
from mmfa.utils.checkpoint_io import atomic_write_text, write_last_checkpoint
from ..loops import ResumableEpochBasedTrainLoop

__all__ = ['PreemptionCheckpointHook']

# Signals the kernel delivers without asking the process: no handler can run.
_UNCATCHABLE = ('SIGKILL', 'SIGSTOP')
#: Set by tools/dist_train.sh: the file where the ranks record their exit code, so
#: that the launcher can exit with it (torchrun itself exits with 1).
STATUS_FILE_ENV = 'MMFA_PREEMPTION_STATUS_FILE'


def _guard_worker_signals(signals: Iterable[int]) -> None:
    """In a data-loader worker: survive ``signals`` sent by anyone but the parent.

    torch's workers die on a SIGTERM that does not come from their parent, and the
    main process then fails with "DataLoader worker ... killed by signal". Slurm,
    torchrun (``killpg`` of each rank's session) and ``kill -- -PGID`` signal the
    workers too. Here the signals stay blocked (the parent forks the workers with
    them blocked, see :func:`_guarded_get_iterator`) and a thread takes them with
    ``sigwaitinfo``: a SIGTERM from the parent (``Process.terminate`` when the
    main process shuts the workers down) ends the worker as torch's handler would,
    any other is dropped; the main process saves and exits, and its workers end
    with it.
    """
    sigs = set(signals)
    parent = os.getppid()
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)

    def wait() -> None:
        while True:
            info = signal.sigwaitinfo(sigs)
            if info.si_signo == signal.SIGTERM and info.si_pid == parent:
                os._exit(0)

    threading.Thread(target=wait, name='mmfa-worker-signals', daemon=True).start()


class _WorkerSignalGuard:
    """``worker_init_fn`` that runs :func:`_guard_worker_signals`, then the wrapped
    ``worker_init_fn`` (mmengine's seeding). Picklable for spawn contexts."""

    def __init__(self, init_fn: Optional[Callable], signals: Iterable[int]):
        self.init_fn = init_fn
        self.signals = tuple(int(s) for s in signals)

    def __call__(self, worker_id: int) -> None:
        _guard_worker_signals(self.signals)
        if self.init_fn is not None:
            self.init_fn(worker_id)


_GUARD = {'signals': (), 'get_iterator': None}


def _guarded_get_iterator(self):
    """``DataLoader._get_iterator`` while a :class:`PreemptionCheckpointHook` is
    active: workers started now get :class:`_WorkerSignalGuard`, and the signals
    are blocked while they are forked, so a signal arriving before the guard runs
    in a worker stays pending there instead of killing it (in the main process it
    is delivered when the mask is restored)."""
    original = _GUARD['get_iterator']
    signals = _GUARD['signals']
    if self.num_workers == 0 or not signals:
        return original(self)
    if not isinstance(self.worker_init_fn, _WorkerSignalGuard):
        self.worker_init_fn = _WorkerSignalGuard(self.worker_init_fn, signals)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        return original(self)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _install_worker_guard(signals: Iterable[int]) -> None:
    """Guard the workers of every DataLoader that starts them from now on (the
    train and val loaders, the mid-epoch resume loader, loaders of other hooks)."""
    from torch.utils.data import DataLoader
    _GUARD['signals'] = tuple(int(s) for s in signals)
    if DataLoader._get_iterator is not _guarded_get_iterator:
        _GUARD['get_iterator'] = DataLoader._get_iterator
        DataLoader._get_iterator = _guarded_get_iterator


def _remove_worker_guard() -> None:
    from torch.utils.data import DataLoader
    if DataLoader._get_iterator is _guarded_get_iterator:
        DataLoader._get_iterator = _GUARD['get_iterator']
    _GUARD['signals'] = ()


def _resolve_signal(sig: Union[str, int]) -> signal.Signals:
    valid = sorted(s.name for s in signal.Signals
                   if s.name not in _UNCATCHABLE)
    try:
        resolved = (signal.Signals[sig] if isinstance(sig, str) else
                    signal.Signals(sig))
    except (KeyError, ValueError):
        resolved = None
    if resolved is None or resolved.name in _UNCATCHABLE:
        raise ValueError(
            f'PreemptionCheckpointHook: cannot handle the signal {sig!r}; use '
            f'names of catchable signals, e.g. signals=("SIGTERM", "SIGUSR1"). '
            f'Valid names: {", ".join(valid)}.')
    return resolved


@HOOKS.register_module()
class PreemptionCheckpointHook(Hook):
    """Checkpoint the completed iteration and exit when the job is preempted.

    Slurm sends SIGTERM to every task before it kills a job at its time limit or on
    preemption (``KillWait`` seconds later comes SIGKILL), and SIGUSR1 earlier if the
    job asks for it (``srun/sbatch --signal=USR1@180``); ``torchrun`` forwards the
    signals it receives to its workers (``tools/dist_train.sh`` adds SIGUSR1 to the
    forwarded ones). The pre-training runs of Zhang et al., "Feature Augmentation
    for Self-supervised Contrastive Learning: A Closer Look", arXiv:2410.12396, take
    days, so a preempted run should lose at most one iteration.

    - ``before_train``: installs a handler for each of ``signals`` (remembering the
      previous ones) that only records the signal: the model, optimizer and feature
      banks are consistent only between iterations, and collectives cannot be run
      from a signal handler.
    - ``after_train_iter`` (lowest priority: after the feature banks are written,
      the LR scheduler stepped and ``CheckpointHook`` ran): the recorded signal is
      all-reduced over the ranks (MAX), so every rank decides to stop at the same
      iteration and none waits in a collective the others left. If set, and the
      iteration ended a gradient-accumulation cycle (``optim_wrapper.should_update()``;
      accumulated gradients are not part of a checkpoint), rank 0 saves the state
      after this iteration as ``iter_{runner.iter + 1}.pth`` (``by_epoch=False``:
      meta ``iter = runner.iter + 1``, ``epoch`` = the epoch in progress) with the
      optimizer, the LR schedulers, the message hub and the model's persistent
      buffers (the feature banks), into ``CheckpointHook``'s directory (else the work
      dir), and writes its path to ``work_dir/last_checkpoint`` as ``CheckpointHook``
      does, so ``tools/train.py --resume`` (auto) picks it up. After a barrier (no
      rank exits before the file is complete: torchrun and ``srun
      --kill-on-bad-exit`` stop the other ranks when one exits) every rank logs what
      happened, calls the previous handler of that signal if it was a Python
      function (e.g. one that requeues the job), and exits with ``exit_code``.
      Further signals are ignored from then on, so that every rank exits with it.
    - ``after_train``: restores the previous handlers. A signal received after the
      last check of the run is reported and otherwise ignored (training finished).

    A signal that arrives during validation is acted on after the next training
    iteration, so ``KillWait`` must cover the rest of a validation round plus one
    iteration and the checkpoint write (torchrun waits 30 s before SIGKILL).

    **Exit code** ``exit_code`` (default 75, ``EX_TEMPFAIL`` of sysexits.h,
    "temporary failure, retry"): non-zero, so Slurm marks the step failed and a job
    script can tell a preemption checkpoint from a crash and requeue, e.g.
    ``srun ... ; [ $? -eq 75 ] && scontrol requeue $SLURM_JOB_ID`` (with ``srun``
    the step's exit code is the largest task exit code; torchrun itself exits with
    1, but ``tools/dist_train.sh`` runs it through ``tools/misc/torchrun.py``,
    which exits with the ranks' code).

    A preempted epoch-based run resumes mid-epoch correctly only with
    :class:`~mmfa.engine.loops.ResumableEpochBasedTrainLoop` (a warning says so
    otherwise). **Data-loader workers** receive the signal too when it goes to the
    whole process group or job step (slurm, ``kill -- -PGID``, torchrun's
    ``killpg`` of each rank), and torch's workers die of it, failing the main
    process with "DataLoader worker ... killed by signal" before it can save.
    From ``before_train`` to ``after_train`` every DataLoader that starts workers
    (train and val loaders, persistent or not, the mid-epoch resume loader, loaders
    of other hooks) therefore gives them a ``worker_init_fn`` wrapper: the workers
    ignore these signals unless they come from their parent process (which shuts
    them down with SIGTERM), and the signals are blocked while they are forked. The
    handlers can only be installed from the main thread (a warning says when they
    are not); if training raises, ``after_train`` does not run and the handlers
    stay installed until the process exits. ``last_checkpoint`` is written
    atomically (after the checkpoint, which mmfa's ``Runner.save_checkpoint``
    writes atomically too). When ``MMFA_PREEMPTION_STATUS_FILE`` is set
    (``tools/dist_train.sh`` does), the exit code is also written there, so the
    launcher can exit with it.

    Add it with ``custom_hooks = [dict(type='PreemptionCheckpointHook')]`` (or as
    ``default_hooks.preemption``).

    Args:
        signals (Sequence[str | int]): The signals that request the checkpoint.
            Defaults to ``('SIGTERM', 'SIGUSR1')``.
        exit_code (int): Exit status of every rank after the checkpoint, in
            [1, 255]. Defaults to 75.
        out_dir (str, optional): Directory of the checkpoint. Defaults to None:
            ``CheckpointHook``'s directory, or the work dir without one.
        save_optimizer (bool): Whether to save the optimizer state. Defaults to
            True.
        save_param_scheduler (bool): Whether to save the LR scheduler states.
            Defaults to True.
    """

    priority = 'LOWEST'
    DEFAULT_EXIT_CODE = 75

    def __init__(self,
                 signals: Sequence[Union[str, int]] = ('SIGTERM', 'SIGUSR1'),
                 exit_code: int = DEFAULT_EXIT_CODE,
                 out_dir: Optional[str] = None,
                 save_optimizer: bool = True,
                 save_param_scheduler: bool = True) -> None:
        if isinstance(signals, (str, int)):
            signals = (signals, )
        if len(signals) == 0:
            raise ValueError('PreemptionCheckpointHook: signals is empty; give '
                             'at least one, e.g. ("SIGTERM", "SIGUSR1").')
        if (not isinstance(exit_code, int) or isinstance(exit_code, bool)
                or not 1 <= exit_code <= 255):
            raise ValueError(
                'PreemptionCheckpointHook: exit_code must be an int in [1, 255] '
                '(non-zero, so that the scheduler sees the run did not finish), '
                f'got {exit_code!r}.')
        self.signals = tuple(dict.fromkeys(_resolve_signal(s) for s in signals))
        self.exit_code = exit_code
        self.out_dir = out_dir
        self.save_optimizer = save_optimizer
        self.save_param_scheduler = save_param_scheduler
        self._previous = {}
        self._received: Optional[int] = None  # set by the handler, this rank
        self._stop_signal: Optional[int] = None  # agreed by all ranks
        self._exiting = False
        self._waiting_logged = False

    # ------------------------------------------------------------------ signals
    def _on_signal(self, signum: int, frame) -> None:
        # Only record; the work happens between iterations (see the class doc).
        if self._received is None and not self._exiting:
            self._received = signum

    def _install_handlers(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            print_log(
                'PreemptionCheckpointHook: training does not run in the main '
                'thread, where Python installs signal handlers; no checkpoint '
                'will be saved on preemption.',
                logger='current',
                level=logging.WARNING)
            return False
        for sig in self.signals:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)
        return True

    def _guard_dataloader_workers(self, runner) -> None:
        """Make data-loader workers survive the signals (see the class doc)."""
        from mmengine.runner import BaseLoop
        _install_worker_guard(self.signals)
        for loop in (runner.train_loop, getattr(runner, '_val_loop', None)):
            loader = getattr(loop, 'dataloader', None) if isinstance(
                loop, BaseLoop) else None
            if getattr(loader, '_iterator', None) is not None:
                print_log(
                    'PreemptionCheckpointHook: the persistent workers of a '
                    'dataloader started before training; a signal sent to the '
                    'whole process group may kill them.',
                    logger='current',
                    level=logging.WARNING)

    def _restore_handlers(self) -> None:
        _remove_worker_guard()
        for sig, previous in self._previous.items():
            # Leave a handler someone installed after ours alone.
            if signal.getsignal(sig) == self._on_signal:
                signal.signal(
                    sig, signal.SIG_DFL if previous is None else previous)
        self._previous = {}

    def _chain_previous_handler(self, signum: int) -> None:
        previous = self._previous.get(signal.Signals(signum))
        if not callable(previous):  # SIG_DFL, SIG_IGN or set outside Python
            return
        try:
            previous(signum, None)
        except BaseException as e:  # noqa: B036  we exit below in any case
            print_log(
                'PreemptionCheckpointHook: the previous handler of '
                f'{signal.Signals(signum).name} raised {e!r}; exiting anyway.',
                logger='current',
                level=logging.WARNING)

    # -------------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        others = [
            h for h in runner.hooks
            if isinstance(h, PreemptionCheckpointHook) and h is not self
        ]
        if others:
            raise ValueError(
                'PreemptionCheckpointHook is registered more than once (e.g. in '
                'both default_hooks and custom_hooks); keep one of them.')
        loop = runner.train_loop
        if (isinstance(loop, EpochBasedTrainLoop)
                and not isinstance(loop, ResumableEpochBasedTrainLoop)):
            print_log(
                f'PreemptionCheckpointHook: {type(loop).__name__} restarts a '
                'preempted epoch from its first batch on resume (repeating data '
                'and overrunning the schedule); use train_cfg = dict('
                'type="ResumableEpochBasedTrainLoop", ...).',
                logger='current',
                level=logging.WARNING)
        self._received = None
        self._stop_signal = None
        self._exiting = False
        self._waiting_logged = False
        if self._install_handlers():
            self._guard_dataloader_workers(runner)
            names = '/'.join(s.name for s in self.signals)
            print_log(
                f'PreemptionCheckpointHook: on {names} the run saves a '
                'checkpoint after the current iteration and exits with code '
                f'{self.exit_code}.',
                logger='current')

    def _at_update_boundary(self, runner) -> bool:
        """Whether the optimizer stepped in this iteration (no gradients are
        accumulated that a checkpoint would lose)."""
        wrapper = runner.optim_wrapper
        wrappers = (
            list(wrapper.values())
            if isinstance(wrapper, OptimWrapperDict) else [wrapper])
        return all(w.should_update() for w in wrappers
                   if hasattr(w, 'should_update'))

    def _checkpoint_dir(self, runner) -> Tuple[str, Optional[dict]]:
        if self.out_dir is not None:
            return self.out_dir, None
        for hook in runner.hooks:
            # Its before_train (higher priority) resolved out_dir already.
            if isinstance(hook, CheckpointHook) and hook.out_dir is not None:
                return hook.out_dir, hook.backend_args
        return runner.work_dir, None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self._stop_signal is None:
            # Every rank takes part every iteration, so none can be left waiting.
            flag = torch.tensor([self._received or 0], dtype=torch.long)
            all_reduce(flag, op='max')
            if int(flag.item()) == 0:
                return
            self._stop_signal = int(flag.item())
        if not self._at_update_boundary(runner):
            if not self._waiting_logged:
                self._waiting_logged = True
                print_log(
                    'PreemptionCheckpointHook: '
                    f'{signal.Signals(self._stop_signal).name} received; '
                    'checkpointing at the end of the current gradient-'
                    'accumulation cycle.',
                    logger='current',
                    level=logging.WARNING)
            return
        self._checkpoint_and_exit(runner)

    def _checkpoint_and_exit(self, runner) -> None:
        self._exiting = True
        name = signal.Signals(self._stop_signal).name
        step = runner.iter + 1
        filename = f'iter_{step}.pth'
        out_dir, backend_args = self._checkpoint_dir(runner)
        ckpt_path = join_path(out_dir, filename, backend_args=backend_args)
        runner.message_hub.update_info('last_ckpt', ckpt_path)
        # master_only: rank 0 writes, the other ranks return at once.
        runner.save_checkpoint(
            out_dir,
            filename,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=dict(preempted_by=name),
            by_epoch=False,
            backend_args=backend_args)
        if is_main_process():
            write_last_checkpoint(runner.work_dir, ckpt_path)
        # Nobody exits before the checkpoint is complete (see the class doc).
        barrier()
        status_file = os.environ.get(STATUS_FILE_ENV)
        if status_file:  # every rank: each node's launcher reads its own file
            atomic_write_text(status_file, f'{self.exit_code}\n')
        message = (
            f'PreemptionCheckpointHook: {name} received; saved the state after '
            f'iteration {step} (epoch {runner.epoch + 1}) to {ckpt_path} and '
            f'{osp.join(runner.work_dir, "last_checkpoint")}; exiting with code '
            f'{self.exit_code}. Resume with tools/train.py CONFIG --work-dir '
            f'{runner.work_dir} --resume')
        print_log(message, logger='current', level=logging.WARNING)
        if not is_main_process():
            # mmengine's logger shows only errors on the other ranks.
            print(f'[rank {get_rank()}] {message}', file=sys.stderr, flush=True)
        self._chain_previous_handler(self._stop_signal)
        raise SystemExit(self.exit_code)

    def after_train(self, runner) -> None:
        if self._received is not None and not self._exiting:
            print_log(
                'PreemptionCheckpointHook: '
                f'{signal.Signals(self._received).name} arrived after the last '
                'training iteration; training is complete, so no preemption '
                'checkpoint was saved.',
                logger='current',
                level=logging.WARNING)
        self._restore_handlers()
