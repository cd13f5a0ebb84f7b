# Copyright (c) mmfa contributors. All rights reserved.
"""Run a test function in several gloo processes (CPU) and collect the results.

The ranks are started as ``python tests/utils/dist.py ...`` subprocesses rather than
with ``torch.multiprocessing.spawn``: spawn unpickles the target by module name, and in
a fresh interpreter ``tests`` resolves to an unrelated ``tests`` package installed in
site-packages (model-index ships one), not to this directory. Here each rank installs
this directory as the ``tests`` namespace package (as pytest does), loads the test file
by path and calls the function.

Usage in a test::

    def _worker(rank, world_size, n=3):   # module level, in the test file
        ...
        return dict(x=tensor)              # tensors / python scalars only

    results = run_distributed(_worker, tmp_path, world_size=2, n=3)
    results[rank]['x']
"""
import importlib.machinery
import importlib.util
import inspect
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, List

TESTS_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
ROOT = osp.dirname(TESTS_DIR)


def run_distributed(fn: Callable,
                    tmp_dir,
                    world_size: int = 2,
                    timeout: float = 240,
                    **kwargs) -> List[dict]:
    """Call ``fn(rank, world_size, **kwargs)`` on ``world_size`` gloo ranks.

    Args:
        fn (callable): A module-level function of a test file.
        tmp_dir (str | Path): An empty-ish scratch directory (pytest's tmp_path).
        world_size (int): Number of processes. Defaults to 2.
        timeout (float): Seconds before the ranks are killed. Defaults to 240.
        **kwargs: Passed to ``fn``; tensors and python values (saved with torch).

    Returns:
        list[dict]: What ``fn`` returned on each rank, in rank order.
    """
    import torch
    work = osp.join(str(tmp_dir), f'dist_{fn.__name__}')
    os.makedirs(work, exist_ok=False)
    torch.save(kwargs, osp.join(work, 'kwargs.pt'))
    target = inspect.getsourcefile(fn)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    procs = []
    for rank in range(world_size):
        log = open(osp.join(work, f'log{rank}.txt'), 'w')
        procs.append((subprocess.Popen(
            [
                sys.executable,
                osp.abspath(__file__), target, fn.__name__, work,
                str(rank),
                str(world_size)
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT), log))
    failed = []
    try:
        for rank, (proc, log) in enumerate(procs):
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                failed.append(f'rank {rank} timed out after {timeout} s')
                break
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    for rank, (proc, _) in enumerate(procs):
        if proc.returncode != 0:
            with open(osp.join(work, f'log{rank}.txt')) as f:
                failed.append(f'rank {rank} exited with {proc.returncode}:\n'
                              f'{f.read()[-4000:]}')
    if failed:
        raise AssertionError('\n'.join(failed))
    return [
        torch.load(osp.join(work, f'result{rank}.pt'))
        for rank in range(world_size)
    ]


def _install_tests_namespace() -> None:
    """Make ``import tests.<...>`` find this checkout's tests/ directory."""
    spec = importlib.machinery.ModuleSpec('tests', None, is_package=True)
    spec.submodule_search_locations = [TESTS_DIR]
    sys.modules['tests'] = importlib.util.module_from_spec(spec)


def _rank_main(target: str, fn_name: str, work: str, rank: int,
               world_size: int) -> None:
    import datetime

    import torch
    import torch.distributed as dist
    _install_tests_namespace()
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    dist.init_process_group(
        'gloo',
        init_method='file://' + osp.join(work, 'pg_store'),
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=120))
    try:
        spec = importlib.util.spec_from_file_location(
            '_dist_target_' + osp.splitext(osp.basename(target))[0], target)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        kwargs = torch.load(osp.join(work, 'kwargs.pt'))
        result = getattr(module, fn_name)(rank, world_size, **kwargs)
        torch.save(result, osp.join(work, f'result{rank}.pt'))
    finally:
        dist.destroy_process_group()


if __name__ == '__main__':
    # Running as a script puts tests/utils first on sys.path; drop it so that e.g.
    # `dist` or `utils` modules here cannot shadow anything.
    sys.path[0] = ROOT
    _rank_main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]),
               int(sys.argv[5]))
