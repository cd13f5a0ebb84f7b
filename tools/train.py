# Copyright (c) mmfa contributors. All rights reserved.
"""Train (pre-train, linear-eval, detection transfer) from an mmfa config.

mmpretrain's tools/train.py with mmfa's defaults: ``default_scope='mmfa'``, the
distributed backend chosen for the device (nccl on GPU, gloo on CPU), CPU process
groups initialised before the Runner, and clear errors for bad configs.
"""
import argparse
import os
import os.path as osp
import sys
from copy import deepcopy

from mmengine.config import Config, ConfigDict
from mmengine.runner import Runner

from mmfa.utils.config_checks import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model with mmfa')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, with no value, from the '
        'latest checkpoint in the work dir ("auto")')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual / the config\'s base batch size')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers in the dataloaders')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. model.head.augmenter.type=MaskFA, '
        'key="[a,b]" for lists (no white space) or '
        'key="dict(type=\'MaskFA\',ratio=0.2)"')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow checkpoints (--resume, load_from, init_cfg) that need more '
        'than weights-only loading to be fully unpickled; this can run code '
        'from the file, use it only for files you trust')
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


def merge_args(cfg, args):
    """Merge CLI arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    cfg.launcher = args.launcher
    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        from mmfa.utils.amp import amp_optim_wrapper
        amp_optim_wrapper(cfg.optim_wrapper)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    default_dataloader_cfg = ConfigDict(
        pin_memory=True,
        persistent_workers=True,
        collate_fn=dict(type='default_collate'),
    )

    def set_default_dataloader_cfg(field):
        if cfg.get(field, None) is None:
            return
        dataloader_cfg = deepcopy(default_dataloader_cfg)
        dataloader_cfg.update(cfg[field])
        if dataloader_cfg.get('num_workers', 0) == 0:
            dataloader_cfg['persistent_workers'] = False
        cfg[field] = dataloader_cfg
        if args.no_pin_memory:
            cfg[field]['pin_memory'] = False
        if args.no_persistent_workers:
            cfg[field]['persistent_workers'] = False

    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        set_default_dataloader_cfg(field)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        sys.exit(f'tools/train.py: config file not found: {args.config} '
                 '(configs live under configs/, e.g. configs/quickstart/)')

    import mmfa  # noqa: F401  (compat fixes for checkpoint loading)
    from mmfa.utils import (CheckpointError, ConfigKeyError,
                            UnreadableImageError, one_line_error,
                            set_checkpoint_trust, setup_runtime)
    from mmfa.utils.registry_hints import explain_registry_error

    if args.trust_checkpoint:
        set_checkpoint_trust(True)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    try:
        setup_runtime(cfg)
        if 'runner_type' not in cfg:
            runner = Runner.from_cfg(cfg)
        else:
            from mmfa.registry import RUNNERS
            runner = RUNNERS.build(cfg)
        runner.train()
    except (CheckpointError, ConfigKeyError, UnreadableImageError) as e:
        # One line naming the problem and the fix (see the messages).
        sys.exit(f'tools/train.py: {one_line_error(e)}')
    except KeyError as e:
        message = explain_registry_error(e)
        if message is None:
            raise
        sys.exit(f'tools/train.py: {args.config}: {message}')


if __name__ == '__main__':
    main()
