# Copyright (c) mmfa contributors. All rights reserved.
"""Train (pre-train, linear-eval, detection transfer) from an mmfa config.

mmpretrain's tools/train.py with mmfa's defaults: ``default_scope='mmfa'``, the
distributed backend chosen for the device (nccl on GPU, gloo on CPU), CPU process
groups initialised before the Runner, clear errors for bad configs, and
``--vis-backend tensorboard`` for TensorBoard logs next to the local ones.
"""
import argparse
import importlib
import os
import os.path as osp
import sys
from copy import deepcopy

from mmengine.config import Config, ConfigDict
from mmengine.runner import Runner

from mmfa.utils.config_checks import DictAction


# --vis-backend choices: mmengine backend type and the module it writes with.
VIS_BACKENDS = {'tensorboard': ('TensorboardVisBackend', 'tensorboard')}


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
        '--channels-last',
        action='store_true',
        help='feed the views to the model in channels-last memory format '
        '(NHWC convolution kernels; faster on recent GPUs and, measured, on '
        'CPUs: docs/benchmarks.md); self-supervised configs only')
    parser.add_argument(
        '--vis-backend',
        choices=sorted(VIS_BACKENDS),
        action='append',
        help='also write the logged scalars through this mmengine visualizer '
        'backend (besides the local log and JSON files); tensorboard needs '
        'the tensorboard package (pip install tensorboard); repeatable')
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


def check_vis_backends(names):
    """Exit with one line if a requested visualizer backend cannot be imported
    (mmengine would only fail at the first logged scalar, after the model build)."""
    for name in names or ():
        backend, module = VIS_BACKENDS[name]
        try:
            importlib.import_module(module)
        except ImportError:
            sys.exit(f'tools/train.py: --vis-backend {name} needs the {module} '
                     f'package ({backend}), which is not installed: pip install '
                     f'{module} (or pip install -e ".[optional]"), or drop '
                     f'--vis-backend {name}.')


def add_vis_backend(cfg, backend_type):
    """Add ``dict(type=backend_type)`` to the visualizer's backends (once)."""
    visualizer = cfg.get('visualizer', None)
    if visualizer is None:
        visualizer = dict(
            type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    backends = list(visualizer.get('vis_backends', None) or [])
    if not any(
            str(b.get('type', '')).split('.')[-1] == backend_type
            for b in backends):
        backends.append(dict(type=backend_type))
    visualizer['vis_backends'] = backends
    cfg.visualizer = visualizer


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
    for name in args.vis_backend or ():
        add_vis_backend(cfg, VIS_BACKENDS[name][0])
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
    if args.channels_last:
        set_channels_last(cfg)
    return cfg


def set_channels_last(cfg):
    """``--channels-last``: channels-last views from the data preprocessor."""
    from mmfa.utils.channels_last import channels_last_preprocessor
    try:
        channels_last_preprocessor(cfg.get('model', None) or {})
    except ValueError as e:
        sys.exit(f'tools/train.py: {e}')


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.config):
        sys.exit(f'tools/train.py: config file not found: {args.config} '
                 '(configs live under configs/, e.g. configs/quickstart/)')

    check_vis_backends(args.vis_backend)

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
