# Copyright (c) mmfa contributors. All rights reserved.
"""``torchrun`` (``python -m torch.distributed.run``) that exits with the preemption
code of its ranks.

    python tools/misc/torchrun.py [TORCHRUN_ARGS...] SCRIPT [SCRIPT_ARGS...]

``tools/dist_train.sh`` runs this instead of torchrun. On SIGTERM / SIGUSR1 torchrun
forwards the signal to its ranks, waits for them (up to 30 s) and then exits with 1
and a traceback, whatever the ranks did. mmfa's ``PreemptionCheckpointHook`` makes
every rank save a checkpoint and exit with 75 (``EX_TEMPFAIL``, the requeue code)
and writes that code to ``$MMFA_PREEMPTION_STATUS_FILE``, which this wrapper sets to
a fresh temporary file; when torchrun fails and the ranks recorded a code, this
wrapper exits with it, so a job script can requeue on 75 as with
``tools/slurm_train.sh``. torchrun runs in this process (same pid), so a signal sent
to the launcher, to its process group or to every process of a job reaches
torchrun exactly once. Nothing else changes; it does not import mmfa.
"""
import os
import os.path as osp
import shutil
import sys
import tempfile

STATUS_FILE_ENV = 'MMFA_PREEMPTION_STATUS_FILE'


def _recorded_code(path: str):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def main(argv=None) -> int:
    """Run torchrun with ``argv``; return the exit code (the ranks' preemption code
    when torchrun failed after one)."""
    status_dir = tempfile.mkdtemp(prefix='mmfa-torchrun-')
    status_file = osp.join(status_dir, 'status')
    os.environ[STATUS_FILE_ENV] = status_file  # the ranks inherit it
    from torch.distributed.run import main as torchrun_main
    code = 0
    error = None
    try:
        torchrun_main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException as e:  # noqa: B036  torchrun's SignalException & co.
        code, error = 1, e
    recorded = _recorded_code(status_file)
    shutil.rmtree(status_dir, ignore_errors=True)
    if code != 0 and recorded is not None:
        print(f'tools/misc/torchrun.py: the ranks saved a preemption checkpoint '
              f'and exited with {recorded}; exiting with {recorded} (torchrun: '
              f'{type(error).__name__ if error else "exit"} {error or code}).',
              file=sys.stderr, flush=True)
        return recorded
    if error is not None:
        raise error
    return code


if __name__ == '__main__':
    sys.exit(main())
