# Copyright (c) mmfa contributors. All rights reserved.
"""FA added to mmpretrain's own SimCLR config through custom_imports
(configs/mmpretrain_plugin): it builds, and mmpretrain's own tools/train.py trains it
on CPU."""
import json
import math
import os.path as osp

import torch

from tests.test_packaging.packaging_utils import (PLUGIN_CONFIG,
                                                  write_tiny_plugin_config)
from tests.utils import ROOT, make_image_folder, run_tool


def test_plugin_config_builds_mmfa_modules_on_mmpretrain_simclr():
    import mmfa  # noqa: F401  (resolves the mmpretrain:: base without pkg_resources)
    from mmengine.config import Config
    from mmpretrain import get_model

    from mmfa.models import BasicFA, FAContrastiveHead, NearestNeighborFA
    cfg = Config.fromfile(osp.join(ROOT, PLUGIN_CONFIG))
    # mmpretrain's scope and settings are kept, only the algorithm changes.
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.optim_wrapper.optimizer.type == 'LARS'
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    model = get_model(cfg)  # mmpretrain's builder, in mmpretrain's scope
    assert type(model) is BasicFA
    assert type(model.head) is FAContrastiveHead
    assert type(model.head.augmenter) is NearestNeighborFA
    assert model.head.augmenter.bank.feats.shape == (65536, 128)
    assert model.neck.fc1.out_features == 128  # mmpretrain SimCLR's projector


def test_plugin_config_trains_three_steps_on_cpu(tmp_path):
    data = make_image_folder(str(tmp_path / 'data'), num_images=12)
    cfg = write_tiny_plugin_config(tmp_path / 'tiny.py',
                                   osp.join(ROOT, PLUGIN_CONFIG), data)
    work = tmp_path / 'work'
    # mmpretrain's own training tool: the config brings in mmfa by itself.
    import mmpretrain
    mmpretrain_train = osp.join(
        osp.dirname(mmpretrain.__file__), '.mim', 'tools', 'train.py')
    run_tool([mmpretrain_train, cfg, '--work-dir', str(work)])

    from mmfa.utils import load_checkpoint_file
    ckpt = load_checkpoint_file(str(work / 'epoch_1.pth'), map_location='cpu')
    # 12 images, batch 4: three optimizer steps ...
    assert ckpt['meta']['iter'] == 3
    momentum = [
        s['momentum_buffer'] for s in ckpt['optimizer']['state'].values()
    ]
    assert momentum and any(m.abs().sum() > 0 for m in momentum)
    # ... and the FeatureBankHook wrote one l2-normalised projection per image.
    state = ckpt['state_dict']
    assert int(state['head.augmenter.bank.num_written']) == 12
    feats = state['head.augmenter.bank.feats']
    torch.testing.assert_close(feats[:12].norm(dim=1), torch.ones(12))
    assert feats[12:].abs().sum() == 0
    scalars = [
        json.loads(line)
        for line in open(next(work.glob('*/vis_data/scalars.json')))
    ]
    assert [s['iter'] for s in scalars] == [1, 2, 3]
    assert all(math.isfinite(s['loss']) for s in scalars)
    # NN FA is active once the bank holds entries: top-1 similarity is logged.
    assert 'bank/top1_sim' in scalars[-1]
