# Copyright (c) mmfa contributors. All rights reserved.
"""README's "Add an FA method" example works as written: the module, the config
that inherits a paper config, and a training step of the resulting model."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from torch import Tensor

from mmfa.models.augmenters import BaseFeatureAugmenter, registered_augmenters
from mmfa.registry import MODELS
from tests.utils import ROOT


# Step 1 of the README: mmfa/models/augmenters/gaussian_jitter_fa.py
@MODELS.register_module()
class GaussianJitterFA(BaseFeatureAugmenter):
    """Adds isotropic Gaussian noise to each (l2-normalised) feature.

    Args:
        std (float): Noise standard deviation per dimension. Defaults to 0.05.
        num_aug (int): Number of augmented copies. Defaults to 1.
    """

    def __init__(self, std: float = 0.05, num_aug: int = 1) -> None:
        super().__init__(num_aug=num_aug)
        self.std = std

    def augment(self, feats: Tensor) -> Tensor:
        n, d = feats.shape
        noise = torch.randn((n, self.num_aug, d),
                            generator=self.generator(feats.device),
                            device=feats.device)
        return feats.unsqueeze(1) + self.std * noise.to(feats.dtype)


# Step 3 of the README: configs/selfsup/fa_id/parallel-predictor-jitter_....py
LEAF = """_base_ = './parallel-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py'
model = dict(head=dict(augmenter=dict(type='GaussianJitterFA', std=0.05)))
"""
PAPER = osp.join(ROOT, 'configs', 'selfsup', 'fa_id',
                 'parallel-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py')


def _tiny(cfg):
    """The config's model, shrunk for a CPU test: ResNet-18 of width 16, BN."""
    model = cfg.model
    model.backbone.update(depth=18, base_channels=16,
                          norm_cfg=dict(type='BN'))
    model.neck.update(in_channels=128, hid_channels=32, out_channels=16,
                      norm_cfg=dict(type='BN1d'))
    model.predictor.update(in_channels=16, hid_channels=32, out_channels=16,
                           norm_cfg=dict(type='BN1d'))
    return model


def test_new_fa_method_trains_from_a_two_line_config(tmp_path):
    assert 'GaussianJitterFA' in registered_augmenters()
    leaf = tmp_path / 'parallel-predictor-jitter.py'
    leaf.write_text(LEAF.replace("'./", f"'{osp.dirname(PAPER)}/"))
    cfg = Config.fromfile(str(leaf))
    assert cfg.model.head.augmenter == dict(type='GaussianJitterFA', std=0.05)
    # the rest of the paper config is unchanged
    paper = Config.fromfile(PAPER)
    paper.model.head.augmenter = cfg.model.head.augmenter
    assert cfg.to_dict() == paper.to_dict()

    from mmfa.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    MessageHub.get_current_instance().update_info('max_iters', 10)
    MessageHub.get_current_instance().update_info('iter', 0)
    torch.manual_seed(0)
    model = MODELS.build(_tiny(cfg))
    model.train()
    augmenter = model.head.augmenter
    assert isinstance(augmenter, GaussianJitterFA) and augmenter.std == 0.05
    gen = torch.Generator().manual_seed(0)
    views = [torch.randn(4, 3, 32, 32, generator=gen) for _ in range(2)]
    out = model.loss(views, None)
    assert torch.isfinite(out['loss'])
    # the FA term is the jittered one: it differs from the original term
    assert float(out['nce_fa']) != float(out['nce_orig'])
    out['loss'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
