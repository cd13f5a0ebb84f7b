# Copyright (c) mmfa contributors. All rights reserved.
"""Evaluate a checkpoint with the test loop of an mmfa config (linear eval, detection).

mmpretrain's tools/test.py with mmfa's defaults (see tools/train.py).
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.evaluator import DumpResults
from mmengine.runner import Runner

from mmfa.utils.config_checks import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a model with mmfa')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and results')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, key=value; e.g. '
        "load_from_cfg.prefix=backbone. or load_from_cfg.allow_partial=True "
        'to load only part of a checkpoint that does not match the model')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow a checkpoint that needs more than weights-only loading to '
        'be fully unpickled; this can run code from the file, use it only for '
        'files you trust')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if '://' not in path and not osp.isfile(path):
            sys.exit(f'tools/test.py: {what} file not found: {path}')

    import mmfa  # noqa: F401  (compat fixes for checkpoint loading)
    from mmfa.utils import (CheckpointError, ConfigKeyError,
                            UnreadableImageError, one_line_error,
                            set_checkpoint_trust, setup_runtime)
    from mmfa.utils.registry_hints import explain_registry_error

    if args.trust_checkpoint:
        set_checkpoint_trust(True)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    try:
        setup_runtime(cfg)
        runner = Runner.from_cfg(cfg)
        if args.out is not None:
            if not args.out.endswith(('.pkl', '.pickle')):
                sys.exit('tools/test.py: --out must be a .pkl file')
            runner.test_evaluator.metrics.append(
                DumpResults(out_file_path=args.out))
        # The checkpoint must fit the model (mmfa's Runner.load_checkpoint): a
        # wrong one is refused instead of scoring a random head or backbone.
        metrics = runner.test()
    except (CheckpointError, ConfigKeyError, UnreadableImageError) as e:
        sys.exit(f'tools/test.py: {one_line_error(e)}')
    except KeyError as e:
        message = explain_registry_error(e)
        if message is None:
            raise
        sys.exit(f'tools/test.py: {args.config}: {message}')
    return metrics


if __name__ == '__main__':
    main()
