# Copyright (c) mmfa contributors. All rights reserved.
"""t-SNE of a backbone's global-average-pooled features, coloured by label.

Builds ``model.backbone`` of any mmfa/mmpretrain config, loads a checkpoint (a
pre-training checkpoint's ``backbone.`` keys, a classifier's, or a bare backbone's),
runs it over the config's ``val_dataloader`` (else ``train_dataloader``; multi-view
pipelines use their first view) and plots sklearn's t-SNE, in the spirit of
mmpretrain's ``tools/visualization/vis_tsne.py``, which the pip package ships only
as data (``mmpretrain/.mim/tools/``, run through openmim's ``mim run``, not part of
mmfa's stack) and which builds the whole model of the config and loads its
checkpoint non-strictly instead of loading only the backbone strictly. Example::

    python tools/analysis_tools/visualize_tsne.py CONFIG CKPT --out tsne.png
"""
import argparse
import copy
import re
import sys
from typing import Tuple

import matplotlib

matplotlib.use('Agg')  # headless: the figure is only written to a file
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


@torch.no_grad()
def extract_pooled_features(backbone: torch.nn.Module,
                            data_preprocessor: torch.nn.Module,
                            dataloader) -> Tuple[np.ndarray, np.ndarray]:
    """Global-average-pooled last-stage features and labels of a dataloader.

    Args:
        backbone (nn.Module): Backbone returning a tensor or a tuple of stage
            outputs (the last one is used).
        data_preprocessor (nn.Module): The model's data preprocessor.
        dataloader (Iterable): Batches as produced by mmengine dataloaders.

    Returns:
        tuple[np.ndarray, np.ndarray]: Features ``(N, C)`` and labels ``(N,)``
        (-1 where a sample has no ``gt_label``).
    """
    feats, labels = [], []
    for data in dataloader:
        data = data_preprocessor(data, False)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]  # multi-view pipelines: the first view
        out = backbone(inputs)
        out = out[-1] if isinstance(out, (list, tuple)) else out
        feats.append((out.mean((2, 3)) if out.dim() == 4 else out.flatten(1)
                      ).float().cpu())
        samples = data.get('data_samples') or [None] * len(inputs)
        labels += [
            int(s.gt_label[0]) if s is not None and 'gt_label' in s else -1
            for s in samples
        ]
    return torch.cat(feats).numpy(), np.array(labels, np.int64)


def load_backbone_checkpoint(backbone: torch.nn.Module, filename: str,
                             logger=None) -> int:
    """Load a checkpoint into a backbone; returns the number of loaded tensors.

    ``module.`` (DDP) prefixes are removed; if any key starts with ``backbone.``
    (an algorithm's or classifier's checkpoint) only those keys are kept, stripped.
    """
    from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
    ckpt = _load_checkpoint(filename, map_location='cpu', logger=logger)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    if any(k.startswith('backbone.') for k in state):
        state = {
            k[len('backbone.'):]: v
            for k, v in state.items() if k.startswith('backbone.')
        }
    own = backbone.state_dict()
    matched = [k for k in state if k in own]
    if not matched:
        raise ValueError(
            f'No key of {filename} matches the backbone (e.g. checkpoint key '
            f'"{next(iter(state), None)}", backbone key "{next(iter(own))}"); '
            'is it a checkpoint of this config?')
    load_state_dict(backbone, state, strict=False, logger=logger)
    return len(matched)


def build_from_config(cfg, dataloader_key=None, max_num_samples=1000):
    """Build backbone, data preprocessor and an unshuffled subset dataloader."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmfa.registry import DATASETS, MODELS
    from mmfa.utils import register_all_modules

    # importing mmfa installs its compat checkpoint loaders
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmfa'))
    if dataloader_key is None:
        dataloader_key = ('val_dataloader' if cfg.get('val_dataloader') else
                          'train_dataloader')
    if not cfg.get(dataloader_key):
        raise ValueError(f'The config has no {dataloader_key}; pass '
                         '--dataloader-key naming one it has.')
    if 'model' not in cfg or 'backbone' not in cfg.model:
        raise ValueError('The config has no model.backbone to visualise.')
    # SyncBN needs a process group; plain BN computes the same in eval mode
    backbone = revert_sync_batchnorm(MODELS.build(cfg.model.backbone))
    backbone.eval()  # (mmpretrain backbones' train() returns None)
    pre_cfg = cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or dict(type='ClsDataPreprocessor')
    data_preprocessor = MODELS.build(copy.deepcopy(pre_cfg))

    loader_cfg = copy.deepcopy(cfg.get(dataloader_key))
    dataset = loader_cfg.pop('dataset')
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
    if max_num_samples and len(dataset) > max_num_samples:
        # evenly spaced, so class-sorted annotation files keep all classes
        idx = np.unique(
            np.linspace(0, len(dataset) - 1, max_num_samples).round())
        dataset.get_subset_(idx.astype(int).tolist())
    loader_cfg.update(
        dataset=dataset,
        sampler=dict(type='DefaultSampler', shuffle=False),
        drop_last=False)
    loader_cfg.pop('batch_sampler', None)
    loader_cfg.setdefault('collate_fn', dict(type='default_collate'))
    dataloader = Runner.build_dataloader(loader_cfg)
    return backbone, data_preprocessor, dataloader, dataset


def plot_tsne(feats: np.ndarray, labels: np.ndarray, out: str,
              classes=None, seed: int = 0, perplexity: float = 30.0) -> str:
    """Fit a 2-d t-SNE and save a scatter plot coloured by label."""
    from sklearn.manifold import TSNE
    if len(feats) < 3:
        raise ValueError(f't-SNE needs at least 3 samples, got {len(feats)}.')
    emb = TSNE(
        n_components=2,
        perplexity=min(perplexity, len(feats) - 1),
        init='pca',
        random_state=seed).fit_transform(feats)
    fig, ax = plt.subplots(figsize=(8, 8))
    uniq = np.unique(labels)
    cmap = plt.get_cmap('tab20' if len(uniq) > 10 else 'tab10')
    for i, lb in enumerate(uniq):
        sel = labels == lb
        name = (classes[lb] if classes is not None and 0 <= lb < len(classes)
                else str(lb))
        ax.scatter(
            emb[sel, 0], emb[sel, 1], s=8, color=cmap(i % cmap.N), label=name)
    if len(uniq) <= 20:
        ax.legend(markerscale=2, fontsize='small')
    ax.set_xticks([])
    ax.set_yticks([])
    fig.savefig(out, bbox_inches='tight')
    plt.close(fig)
    return out


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='t-SNE of backbone features')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', default='tsne.png', help='output image')
    parser.add_argument(
        '--max-num-samples', type=int, default=1000,
        help='evenly spaced subset size (0: all)')
    parser.add_argument(
        '--dataloader-key', default=None,
        help='dataloader of the config (default: val_dataloader if present, '
        'else train_dataloader)')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--perplexity', type=float, default=30.0)
    parser.add_argument('--seed', type=int, default=0, help='t-SNE seed')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    logger = MMLogger.get_current_instance()
    try:
        backbone, pre, loader, dataset = build_from_config(
            cfg, args.dataloader_key, args.max_num_samples)
        n = load_backbone_checkpoint(backbone, args.checkpoint, logger)
    except (ValueError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    logger.info(f'loaded {n} backbone tensors from {args.checkpoint}')
    device = torch.device(args.device)
    feats, labels = extract_pooled_features(
        backbone.to(device), pre.to(device), loader)
    classes = dataset.metainfo.get('classes')
    plot_tsne(feats, labels, args.out, classes, args.seed, args.perplexity)
    print(f'save t-SNE of {len(feats)} samples to: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
