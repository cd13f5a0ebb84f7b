# Copyright (c) mmfa contributors. All rights reserved.
"""Print the environment (``python -m mmfa.utils.collect_env``); ``--check`` also runs
the stack's compiled ops and exits non-zero, naming the fix, if anything is broken."""
import argparse
import sys
from importlib import metadata
from typing import Dict, List

__all__ = ['collect_env', 'check_env']


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return 'not installed'


def collect_env() -> Dict[str, str]:
    """Collect the versions of the stack and whether mmcv's ops are compiled."""
    from mmengine.utils.dl_utils import collect_env as collect_base_env
    env = collect_base_env()
    for name, dist in (('NumPy', 'numpy'), ('setuptools', 'setuptools'),
                       ('MMCV', 'mmcv'), ('MMPretrain', 'mmpretrain'),
                       ('MMDetection', 'mmdet')):
        env[name] = _version(dist)
    try:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
        env['MMCV ops'] = 'compiled'
        env['MMCV Compiler'] = get_compiler_version()
        env['MMCV CUDA Compiler'] = get_compiling_cuda_version()
    except Exception as e:  # report, do not crash: --check turns it into an error
        env['MMCV ops'] = f'NOT available ({type(e).__name__}: {e})'
    import mmfa
    env['mmfa'] = mmfa.__version__
    return env


def _major(version: str) -> int:
    try:
        return int(version.split('.')[0])
    except ValueError:
        return -1


def check_env(env: Dict[str, str]) -> List[str]:
    """Return the problems of the installed stack, each with its fix."""
    problems = []
    fix = 'run `bash tools/install.sh` to install the pinned stack'
    if _major(env.get('NumPy', '0')) >= 2:
        problems.append(f"numpy {env['NumPy']}: mmcv 2.1 / mmdet 3.3 need "
                        f'numpy<2; {fix}')
    if _major(env.get('setuptools', '0')) >= 82:
        problems.append(f"setuptools {env['setuptools']} has no pkg_resources, "
                        f"which mmcv's build needs; {fix}")
    import torch
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
    scores = torch.tensor([0.9, 0.8])
    try:
        from mmcv.ops import nms
        nms(boxes, scores, 0.5)
    except Exception as e:
        problems.append(f'mmcv compiled ops fail ({type(e).__name__}: {e}); '
                        'mmcv 2.1.0 must be built with MMCV_WITH_OPS=1: '
                        f'{fix}')
    try:
        import torchvision.ops
        torchvision.ops.nms(boxes, scores, 0.5)
    except Exception as e:
        problems.append(f'torchvision ops fail ({type(e).__name__}: {e}); '
                        'torch and torchvision must be the pinned PyPI builds '
                        f'(2.14.1 / 0.29.1): {fix}')
    for module in ('mmdet.models', 'mmpretrain.models', 'mmfa.models'):
        try:
            __import__(module)
        except Exception as e:
            problems.append(f'import {module} fails ({type(e).__name__}: '
                            f'{e}); {fix}')
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        '--check',
        action='store_true',
        help='run mmcv/torchvision ops and import mmdet/mmpretrain; exit 1 on '
        'any failure')
    args = parser.parse_args(argv)
    env = collect_env()
    for name, val in env.items():
        print(f'{name}: {val}')
    if args.check:
        problems = check_env(env)
        if problems:
            print('\nThe installed stack is broken:', file=sys.stderr)
            for p in problems:
                print(f'  - {p}', file=sys.stderr)
            return 1
        print('\nstack check: OK (mmcv ops, torchvision ops, mmdet, '
              'mmpretrain, mmfa)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
