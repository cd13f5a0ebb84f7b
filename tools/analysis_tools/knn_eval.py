# Copyright (c) mmfa contributors. All rights reserved.
"""Weighted kNN evaluation of a pre-trained backbone (InstDisc / DINO protocol).

    python tools/analysis_tools/knn_eval.py CONFIG CHECKPOINT \
        [--k 10 20 100 200] [--temperature 0.07] [--batch-size N] \
        [--device cuda] [--work-dir DIR] [--cfg-options k=v ...]

CONFIG is normally a linear-evaluation config (configs/benchmarks/mmpretrain/): its
``model.backbone`` is built and loaded strictly from CHECKPOINT (a pre-training
checkpoint with ``backbone.*`` keys or an extracted backbone); global-average-pooled,
l2-normalised features of the train set (the memory) and the val set are compared with
cosine similarity; each val image is classified by its k nearest train images weighted by
exp(similarity / T). Prints and saves (``knn_results.json`` in the work dir) top-1/top-5
for each k.

Dataloaders: ``knn_train_dataloader``/``knn_val_dataloader`` of the config when present,
else ``train_dataloader`` with the *val pipeline* and no shuffling (the memory must not be
built from random crops) and ``val_dataloader``. Runs in one process (the GPU if one is
visible).
"""
import argparse
import copy
import json
import os
import os.path as osp
import time

import torch
from mmengine.config import Config, DictAction

# Shared with mmfa.engine.hooks.KNNMonitorHook.
from mmfa.evaluation.functional.knn import extract_features


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='kNN evaluation of a pre-trained backbone')
    parser.add_argument('config', help='config with model.backbone and data')
    parser.add_argument('checkpoint', help='pre-training or backbone checkpoint')
    parser.add_argument(
        '--k',
        type=int,
        nargs='+',
        default=[10, 20, 100, 200],
        help='neighbour counts (default: 10 20 100 200)')
    parser.add_argument(
        '--temperature',
        type=float,
        default=0.07,
        help='temperature of the weights exp(sim / T) (default: 0.07)')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help='backbone key prefix in the checkpoint (default: backbone.)')
    parser.add_argument(
        '--batch-size', type=int, help='override the dataloader batch size')
    parser.add_argument(
        '--num-workers', type=int, help='override the dataloader workers')
    parser.add_argument(
        '--device',
        default=None,
        help='device (default: cuda if available, else cpu)')
    parser.add_argument(
        '--chunk-size',
        type=int,
        default=256,
        help='test samples per similarity chunk (default: 256)')
    parser.add_argument(
        '--work-dir',
        help='where to write the log and knn_results.json (default: '
        './work_dirs/knn/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. knn_val_dataloader.batch_size=64')
    return parser.parse_args(argv)


def knn_dataloader_cfgs(cfg):
    """The (train, val) dataloader configs of the kNN evaluation.

    Args:
        cfg (Config): The config.

    Returns:
        tuple[dict, dict]: Train (memory) and val dataloader configs.
    """
    if cfg.get('knn_val_dataloader') is not None:
        val = copy.deepcopy(cfg.knn_val_dataloader)
    elif cfg.get('val_dataloader') is not None:
        val = copy.deepcopy(cfg.val_dataloader)
    else:
        raise KeyError('The config has neither knn_val_dataloader nor '
                       'val_dataloader; use a linear-evaluation config from '
                       'configs/benchmarks/mmpretrain/.')
    if cfg.get('knn_train_dataloader') is not None:
        train = copy.deepcopy(cfg.knn_train_dataloader)
    elif cfg.get('train_dataloader') is not None:
        train = copy.deepcopy(cfg.train_dataloader)
        if 'pipeline' not in train.get('dataset', {}) or \
                'pipeline' not in val.get('dataset', {}):
            raise KeyError(
                'Cannot derive the memory dataloader: train_dataloader.dataset '
                'and val_dataloader.dataset need a `pipeline`. Define '
                'knn_train_dataloader in the config.')
        # The memory is built from deterministic views, as DINO does.
        train['dataset']['pipeline'] = copy.deepcopy(val['dataset']['pipeline'])
    else:
        raise KeyError('The config has neither knn_train_dataloader nor '
                       'train_dataloader.')
    for loader in (train, val):
        loader['sampler'] = dict(type='DefaultSampler', shuffle=False)
        loader.pop('batch_sampler', None)
        loader['drop_last'] = False
        loader.setdefault('collate_fn', dict(type='default_collate'))
    return train, val


def build_preprocessor(cfg):
    """A classification data preprocessor with the config's normalisation."""
    from mmpretrain.models import ClsDataPreprocessor
    pre = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor')
    if pre is None or 'mean' not in pre:
        raise KeyError('The config defines no data_preprocessor with mean/std '
                       '(model.data_preprocessor or data_preprocessor).')
    return ClsDataPreprocessor(
        mean=pre['mean'], std=pre['std'], to_rgb=pre.get('to_rgb', False))


def main(argv=None):
    args = parse_args(argv)
    import mmfa  # noqa: F401  (checkpoint loading fixes)
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmfa.evaluation import KNNAccuracy, load_pretrained_strict
    from mmfa.registry import MODELS
    from mmfa.utils import register_all_modules

    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmfa'))
    work_dir = args.work_dir or osp.join(
        './work_dirs/knn',
        osp.splitext(osp.basename(args.config))[0])
    os.makedirs(work_dir, exist_ok=True)
    stamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    logger = MMLogger.get_instance(
        f'mmfa_knn_{stamp}', log_file=osp.join(work_dir, f'knn_{stamp}.log'))

    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    backbone_cfg.pop('init_cfg', None)  # weights come from CHECKPOINT below
    backbone = MODELS.build(backbone_cfg)
    load_pretrained_strict(backbone, args.checkpoint, prefix=args.prefix)
    backbone.to(device).eval()
    preprocessor = build_preprocessor(cfg).to(device)

    train_cfg, val_cfg = knn_dataloader_cfgs(cfg)
    for loader in (train_cfg, val_cfg):
        if args.batch_size is not None:
            loader['batch_size'] = args.batch_size
        if args.num_workers is not None:
            loader['num_workers'] = args.num_workers
            if args.num_workers == 0:
                loader['persistent_workers'] = False
    train_loader = Runner.build_dataloader(train_cfg)
    val_loader = Runner.build_dataloader(val_cfg)

    logger.info(f'Extracting memory features of {len(train_loader.dataset)} '
                'train images')
    train_feats, train_labels = extract_features(backbone, preprocessor,
                                                 train_loader, device)
    logger.info(f'Extracting features of {len(val_loader.dataset)} val images')
    val_feats, val_labels = extract_features(backbone, preprocessor,
                                             val_loader, device)

    head = cfg.model.get('head') or {}
    metric = KNNAccuracy(
        k=args.k,
        T=args.temperature,
        num_classes=head.get('num_classes'),
        chunk_size=args.chunk_size)
    metric.dataset_meta = getattr(val_loader.dataset, 'metainfo', None)
    metric.set_memory(train_feats, train_labels)
    metric.process(None, [
        dict(feats=f, gt_label=l) for f, l in zip(val_feats, val_labels)
    ])
    results = metric.evaluate(len(val_feats))
    lines = [f'kNN (T={args.temperature}) of {args.checkpoint}:']
    for k in args.k:
        lines.append(f'  k={k:<4d} top1 {results[f"knn/top1_k{k}"]:6.2f}  '
                     f'top5 {results[f"knn/top5_k{k}"]:6.2f}')
    logger.info('\n'.join(lines))
    with open(osp.join(work_dir, 'knn_results.json'), 'w') as f:
        json.dump(
            dict(
                config=args.config,
                checkpoint=args.checkpoint,
                temperature=args.temperature,
                results=results),
            f,
            indent=2)
    return results


if __name__ == '__main__':
    main()
