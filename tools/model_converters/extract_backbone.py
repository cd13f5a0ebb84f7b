# Copyright (c) mmfa contributors. All rights reserved.
"""Extract the backbone of a pre-training checkpoint.

    python tools/model_converters/extract_backbone.py CHECKPOINT OUT \
        [--prefix backbone.] [--format {mmengine,torchvision}]

Input: an mmengine checkpoint of a pre-training run (``{'state_dict': {...}}`` with the
online encoder under ``backbone.``; ``neck.*``, ``head.*``, ``target_net.*`` (BYOL's
momentum encoder), feature banks and the like are dropped).

Output:
* ``--format mmengine`` (default): ``{'state_dict': {conv1.weight, bn1.*, layer1.*,
  ... layer4.*}, 'meta': {...}}`` -- what mmpretrain's ``ResNet`` (init_cfg
  ``PretrainedStrict``/``Pretrained`` with any prefix), mmdet's ``ResNet`` and the
  res5 shared head ``roi_head.shared_head.layer4`` of the C4 detector load (the
  detection config points both at this file).
* ``--format torchvision``: a plain state dict with torchvision's ResNet names, for
  ``torchvision.models.resnet50().load_state_dict(sd, strict=False)`` (only ``fc.*``
  is missing). mmpretrain's pytorch-style ResNet without ``deep_stem`` already uses
  torchvision's names (``conv1``, ``bn1``, ``layerN.M.convK``/``bnK``,
  ``layerN.M.downsample.0/1``), so the conversion checks the names rather than
  renaming them.
"""
import argparse
import os
import os.path as osp
import re
import sys
from collections import OrderedDict

import torch

TORCHVISION_RESNET_KEY = re.compile(
    r'^(conv1\.weight|bn1\.(weight|bias|running_mean|running_var|'
    r'num_batches_tracked)|layer[1-4]\.\d+\.(conv[1-3]\.weight|'
    r'(bn[1-3]|downsample\.1)\.(weight|bias|running_mean|running_var|'
    r'num_batches_tracked)|downsample\.0\.weight))$')


def extract_backbone(state_dict, prefix='backbone.'):
    """Return the entries under ``prefix`` with the prefix removed.

    Args:
        state_dict (dict): A pre-training state dict.
        prefix (str): The backbone prefix. Defaults to 'backbone.'.

    Returns:
        tuple[OrderedDict, list[str]]: The backbone state dict and the dropped keys.
    """
    from mmfa.evaluation.functional import summarise_keys
    if not prefix.endswith('.'):
        prefix += '.'
    backbone = OrderedDict()
    dropped = []
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key.startswith(prefix):
            backbone[key[len(prefix):]] = value.detach().cpu().clone()
        else:
            dropped.append(key)
    if not backbone:
        raise KeyError(
            f"No key starts with '{prefix}'; the checkpoint holds "
            f'{len(state_dict)} tensors: {summarise_keys(state_dict)}. Pass '
            '--prefix for another layout; a file without a prefix is already '
            'a backbone state dict.')
    return backbone, dropped


def to_torchvision(backbone):
    """Check that a backbone state dict uses torchvision's ResNet key names.

    Args:
        backbone (dict): The extracted backbone state dict.

    Returns:
        OrderedDict: The same entries (torchvision names).
    """
    bad = [k for k in backbone if not TORCHVISION_RESNET_KEY.match(k)]
    if bad:
        raise KeyError(
            f'{len(bad)} keys have no torchvision ResNet equivalent (e.g. '
            f'{bad[:5]}): only a pytorch-style ResNet without deep_stem/'
            'avg_down (mmpretrain ResNet/ResNetV1b-like variants differ) '
            'converts to torchvision.')
    return OrderedDict(backbone)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Extract the backbone weights of a pre-training checkpoint')
    parser.add_argument('checkpoint', help='pre-training checkpoint')
    parser.add_argument('out', help='output file')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help='prefix of the backbone keys (default: backbone.)')
    parser.add_argument(
        '--format',
        choices=['mmengine', 'torchvision'],
        default='mmengine',
        help="mmengine: {'state_dict': ...} for mmpretrain/mmdet configs; "
        'torchvision: a plain state dict with torchvision ResNet names')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='allow a checkpoint that needs more than weights-only loading to '
        'be fully unpickled; this can run code from the file, use it only for '
        'files you trust')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmfa.evaluation.functional import (load_checkpoint_state_dict,
                                            summarise_keys)
    from mmfa.utils import CheckpointError, set_checkpoint_trust
    if args.trust_checkpoint:
        set_checkpoint_trust(True)
    try:
        # weights_only with mmfa's allow-list: a file that could run code is
        # refused unless --trust-checkpoint.
        state_dict = load_checkpoint_state_dict(args.checkpoint)
    except CheckpointError as e:
        sys.exit(f'extract_backbone.py: {e}')
    backbone, dropped = extract_backbone(state_dict, args.prefix)
    if args.format == 'torchvision':
        out = to_torchvision(backbone)
    else:
        out = {
            'state_dict': backbone,
            'meta': {
                'source': osp.abspath(args.checkpoint),
                'prefix': args.prefix
            }
        }
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    torch.save(out, args.out)
    print(f'Saved {len(backbone)} backbone tensors ({args.format} format) to '
          f'{args.out}; dropped {len(dropped)}: {summarise_keys(dropped)}')


if __name__ == '__main__':
    main()
