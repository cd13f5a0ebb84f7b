# Copyright (c) mmfa contributors. All rights reserved.
"""The Basic layout's projector is mmpretrain's MoCoV2Neck (fc-relu-fc, no BN), which
replaced mmfa's own MLPNeck: same keys (old checkpoints load), same function."""
import os.path as osp

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmfa  # noqa: F401
from tests.utils import ROOT

BASIC = osp.join(ROOT, 'configs', '_base_', 'models', 'basic-fa_resnet50.py')


def _neck(in_channels=32, hid_channels=24, out_channels=8):
    from mmfa.registry import MODELS
    cfg = Config.fromfile(BASIC).model.neck
    cfg.update(in_channels=in_channels, hid_channels=hid_channels,
               out_channels=out_channels)
    with DefaultScope.overwrite_default_scope('mmfa'):
        return MODELS.build(cfg)


def test_basic_projector_is_linear_relu_linear_without_norm():
    neck = _neck()
    assert not any(
        isinstance(m, torch.nn.modules.batchnorm._NormBase)
        for m in neck.modules())
    # MLPNeck's keys: checkpoints saved with it load into this neck
    assert sorted(neck.state_dict()) == [
        'mlp.0.bias', 'mlp.0.weight', 'mlp.2.bias', 'mlp.2.weight'
    ]


def test_basic_projector_forward_and_gradient_match_the_formula():
    torch.manual_seed(0)
    neck = _neck()
    x = torch.randn(4, 32, 5, 5, requires_grad=True)
    out, = neck((x, ))
    sd = neck.state_dict()
    ref_x = x.detach().clone().requires_grad_()
    pooled = ref_x.mean(dim=(2, 3))
    ref = F.linear(F.relu(F.linear(pooled, sd['mlp.0.weight'],
                                   sd['mlp.0.bias'])),
                   sd['mlp.2.weight'], sd['mlp.2.bias'])
    torch.testing.assert_close(out, ref)
    w = torch.randn_like(ref)
    (out * w).sum().backward()
    (ref * w).sum().backward()
    torch.testing.assert_close(x.grad, ref_x.grad)
