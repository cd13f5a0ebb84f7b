# Copyright (c) mmfa contributors. All rights reserved.
"""Strict loading of pre-trained backbone weights for downstream evaluation.

mmengine's ``PretrainedInit`` and ``load_state_dict`` only *warn* about missing keys,
so a linear probe or a detector silently trains on a random backbone when the
checkpoint path or the key prefix is wrong. The helpers here fail loudly instead,
which matters for every number of Zhang et al., "Feature Augmentation for
Self-supervised Contrastive Learning: A Closer Look", arXiv:2410.12396 (Tables I-VI
are all measured on a frozen or fine-tuned pre-trained backbone).
"""
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence

import torch
from mmengine.logging import print_log
from torch import nn

from mmfa.utils.checkpoint_io import closest_prefix_hint

__all__ = [
    'load_checkpoint_state_dict', 'select_prefixed_state_dict',
    'load_pretrained_strict', 'summarise_keys'
]


def summarise_keys(keys: Iterable[str], max_groups: int = 12) -> str:
    """Name state-dict keys: all of them when few, else grouped by their first two
    dotted components.

    Args:
        keys (Iterable[str]): The keys.
        max_groups (int): How many keys or groups to list before eliding the rest.

    Returns:
        str: e.g. ``"backbone.layer1.* (30), neck.mlp.* (4)"``.
    """
    keys = list(keys)
    if len(keys) <= max_groups:
        return ', '.join(keys) if keys else '<no keys>'
    groups: Dict[str, int] = OrderedDict()
    for key in keys:
        parts = key.split('.')
        group = '.'.join(parts[:2]) + '.*' if len(parts) > 2 else key
        groups[group] = groups.get(group, 0) + 1
    items = [f'{g} ({n})' for g, n in list(groups.items())[:max_groups]]
    if len(groups) > max_groups:
        items.append(f'... {len(groups) - max_groups} more groups')
    return ', '.join(items) if items else '<no keys>'


def load_checkpoint_state_dict(checkpoint: str,
                               map_location: str = 'cpu') -> Dict:
    """Load a checkpoint file and return its state dict.

    Loads through mmengine's ``CheckpointLoader`` (so mmfa's torch>=2.6-safe loader
    is used after ``import mmfa``). Accepts mmengine checkpoints (``{'state_dict':
    ...}``) and plain state dicts; strips the ``module.`` prefix of DDP-saved weights.

    Args:
        checkpoint (str): Path (or URL) of the checkpoint.
        map_location (str): Passed to ``torch.load``. Defaults to 'cpu'.

    Returns:
        dict: ``{name: tensor}``.
    """
    import mmfa  # noqa: F401  (installs the checkpoint loader patches)
    from mmengine.runner.checkpoint import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location)
    if not isinstance(ckpt, dict):
        raise TypeError(f'Checkpoint {checkpoint} holds a {type(ckpt).__name__}, '
                        'expected a dict (a state dict or an mmengine '
                        "checkpoint with a 'state_dict' entry).")
    state_dict = ckpt.get('state_dict', ckpt)
    out = OrderedDict()
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            continue  # e.g. 'meta' entries of a plain dict
        out[key[len('module.'):] if key.startswith('module.') else key] = value
    return out


def select_prefixed_state_dict(state_dict: Dict,
                               prefix: Optional[str]) -> Dict:
    """Keep the entries under ``prefix`` (stripped); return the dict unchanged when
    no key carries the prefix (an already extracted backbone state dict).

    Args:
        state_dict (dict): A full state dict.
        prefix (str, optional): e.g. ``'backbone.'``; None or '' keeps everything.

    Returns:
        dict: The selected state dict.
    """
    if not prefix:
        return state_dict
    if not prefix.endswith('.'):
        prefix += '.'
    selected = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                           if k.startswith(prefix))
    return selected if selected else state_dict


def _allowed(key: str, allow_missing: Sequence[str]) -> bool:
    # BN counters are not weights: torchvision and other exporters may drop them.
    return key.endswith('num_batches_tracked') or any(
        key.startswith(p) for p in allow_missing)


def load_pretrained_strict(module: nn.Module,
                           checkpoint: str,
                           prefix: Optional[str] = 'backbone.',
                           allow_missing: Sequence[str] = (),
                           map_location: str = 'cpu',
                           logger='current') -> List[str]:
    """Load pre-trained weights into ``module`` and fail on anything suspicious.

    The keys under ``prefix`` are used (``backbone.`` for an mmfa/mmpretrain
    pre-training checkpoint, whose other entries -- ``neck.*``, ``head.*``,
    ``target_net.*`` -- are ignored); a checkpoint without any key under ``prefix``
    is taken as an extracted backbone state dict (see
    ``tools/model_converters/extract_backbone.py``) and used as is.

    Errors (``RuntimeError``):
      * no key of ``module`` is in the checkpoint (wrong file or prefix): the message
        names the keys the checkpoint does hold;
      * a key of ``module`` is missing, unless it starts with one of
        ``allow_missing`` (or is a BN ``num_batches_tracked`` counter);
      * a shape differs.
    Checkpoint keys the module does not have (e.g. ``layer4`` for a 3-stage detection
    backbone) are ignored and summarised in the log.

    Args:
        module (nn.Module): The module to load into (e.g. a ResNet).
        checkpoint (str): Checkpoint path.
        prefix (str, optional): Key prefix of the module's weights in the
            checkpoint. Defaults to 'backbone.'.
        allow_missing (Sequence[str]): Prefixes of module keys that may be absent
            from the checkpoint (e.g. ``('norm.',)`` for the extra BN of the
            detection shared head, which pre-training never had).
        map_location (str): Passed to ``torch.load``. Defaults to 'cpu'.
        logger: mmengine logger spec. Defaults to 'current'.

    Returns:
        list[str]: The names of the loaded entries.
    """
    if not checkpoint:
        raise ValueError(
            f'No checkpoint given for {type(module).__name__}: set its '
            "init_cfg.checkpoint, e.g. --cfg-options "
            'model.backbone.init_cfg.checkpoint=PATH/TO/pretrain.pth '
            '(the launchers in tools/benchmarks/ do this).')
    full = load_checkpoint_state_dict(checkpoint, map_location)
    state_dict = select_prefixed_state_dict(full, prefix)
    own = module.state_dict()
    matched = [k for k in own if k in state_dict]
    if not matched:
        raise RuntimeError(
            f'Checkpoint {checkpoint} has no weights for '
            f'{type(module).__name__}: it holds {len(full)} tensors, none '
            f"under the prefix '{prefix}' and none named like the module's "
            f"keys (e.g. {list(own)[:3]}). Keys found: {summarise_keys(full)}"
            f'{closest_prefix_hint(list(own), list(full))}. '
            'Pass a pre-training checkpoint whose backbone is saved under '
            f"'{prefix}' or a backbone state dict from "
            'tools/model_converters/extract_backbone.py.')
    mismatched = [
        f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model '
        f'{tuple(own[k].shape)}' for k in matched
        if state_dict[k].shape != own[k].shape
    ]
    if mismatched:
        raise RuntimeError(
            f'Checkpoint {checkpoint} does not fit {type(module).__name__} '
            f'({len(mismatched)} shape mismatches, e.g. {mismatched[:5]}); '
            'check the backbone depth/arch in the config.')
    missing = [
        k for k in own if k not in state_dict and not _allowed(k, allow_missing)
    ]
    if missing:
        raise RuntimeError(
            f'Checkpoint {checkpoint} lacks {len(missing)} of the '
            f'{len(own)} weights of {type(module).__name__} '
            f"(prefix '{prefix}'): {summarise_keys(missing)}; first: "
            f'{missing[:10]}. The checkpoint holds: {summarise_keys(full)}'
            f'{closest_prefix_hint(list(own), list(state_dict))}. '
            'Use the checkpoint of a matching backbone, or list prefixes that '
            'may stay un-initialised in init_cfg.allow_missing.')
    unexpected = [k for k in state_dict if k not in own]
    module.load_state_dict(
        OrderedDict((k, state_dict[k]) for k in matched), strict=False)
    message = (f'Loaded {len(matched)}/{len(own)} entries of '
               f'{type(module).__name__} from {checkpoint}')
    if prefix and state_dict is not full:
        message += f" (prefix '{prefix}')"
    skipped = [k for k in own if k not in state_dict]
    if skipped:
        message += f'; left as initialised: {summarise_keys(skipped)}'
    if unexpected:
        message += (f'; ignored {len(unexpected)} checkpoint entries the '
                    f'module does not have: {summarise_keys(unexpected)}')
    print_log(message, logger=logger)
    return matched
