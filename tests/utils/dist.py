# Copyright (c) mmfa contributors. All rights reserved.
"""Run a test function on several gloo ranks (CPU processes) and collect the results.

The ranks are *forked* from the test process rather than spawned: a spawned rank would
re-import torch, mmfa and the test module (10+ s on a loaded machine, per test), and
it unpickles the target by module name, where ``tests`` resolves to an unrelated
``tests`` package in site-packages (model-index ships one) instead of this directory.
Each forked rank first sets one intra-op thread (as DataLoader workers do, so no
OpenMP pool inherited from the parent is used), then joins a gloo group through a
``file://`` store in the test's tmp dir (no port to pick).

Usage in a test::

    def _worker(rank, world_size, n=3):
        ...
        return dict(x=tensor)        # tensors / python values

    results = run_distributed(_worker, tmp_path, world_size=2, n=3)
    results[rank]['x']
"""
import datetime
import multiprocessing
import os
import os.path as osp
import traceback
from typing import Callable, List

__all__ = ['run_distributed']


def _rank_entry(fn: Callable, work: str, rank: int, world_size: int,
                kwargs: dict) -> None:
    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)
    try:
        dist.init_process_group(
            'gloo',
            init_method='file://' + osp.join(work, 'pg_store'),
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=120))
        try:
            result = fn(rank, world_size, **kwargs)
        finally:
            dist.destroy_process_group()
        torch.save(result, osp.join(work, f'result{rank}.pt'))
    except BaseException:
        with open(osp.join(work, f'error{rank}.txt'), 'w') as f:
            f.write(traceback.format_exc())
        os._exit(1)


def run_distributed(fn: Callable,
                    tmp_dir,
                    world_size: int = 2,
                    timeout: float = 180,
                    **kwargs) -> List[dict]:
    """Call ``fn(rank, world_size, **kwargs)`` on ``world_size`` gloo ranks.

    Args:
        fn (callable): The per-rank function.
        tmp_dir (str | Path): A scratch directory (pytest's ``tmp_path``).
        world_size (int): Number of processes. Defaults to 2.
        timeout (float): Seconds before the ranks are killed. Defaults to 180.
        **kwargs: Passed to ``fn``.

    Returns:
        list: What ``fn`` returned on each rank, in rank order.
    """
    import torch
    work = osp.join(str(tmp_dir), f'dist_{fn.__name__}')
    os.makedirs(work)
    ctx = multiprocessing.get_context('fork')
    procs = [
        ctx.Process(
            target=_rank_entry,
            args=(fn, work, rank, world_size, kwargs),
            daemon=True) for rank in range(world_size)
    ]
    for proc in procs:
        proc.start()
    errors = []
    try:
        for proc in procs:
            proc.join(timeout)
    finally:
        for rank, proc in enumerate(procs):
            if proc.is_alive():
                errors.append(f'rank {rank} timed out after {timeout} s')
                proc.kill()
                proc.join()
    for rank, proc in enumerate(procs):
        err = osp.join(work, f'error{rank}.txt')
        if osp.exists(err):
            with open(err) as f:
                errors.append(f'rank {rank} failed:\n{f.read()}')
        elif proc.exitcode != 0:
            errors.append(f'rank {rank} exited with {proc.exitcode}')
    if errors:
        raise AssertionError('\n'.join(errors))
    return [
        torch.load(osp.join(work, f'result{rank}.pt'))
        for rank in range(world_size)
    ]
