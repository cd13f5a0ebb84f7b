# Copyright (c) mmfa contributors. All rights reserved.
"""batch_view_collate: the BatchViewAugmentor's views made in the loader workers
(same pixels for the same parameters, a seed gives the same views, epochs and
ranks draw differently), and BatchViewAugmentor(views=None) / channels_last."""
import copy
import os.path as osp
from functools import partial

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmpretrain.models import SelfSupDataPreprocessor
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, Dataset

import mmfa.models  # noqa: F401
from mmfa.datasets import batch_view_collate
from mmfa.models.data_preprocessors import BatchViewAugmentor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
            to_rgb=True)


def _views(scale=16):
    """Two views with every transform kind (blur and solarize in one view)."""
    common = [
        dict(type='RandomResizedCrop', scale=scale, crop_ratio_range=(0.3, 1.)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='RandomApply', prob=0.8, transforms=[
            dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                 saturation=0.4, hue=0.1)]),
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989)),
    ]
    return [
        common + [dict(type='GaussianBlur', magnitude_range=(0.1, 0.5),
                       magnitude_std='inf', prob=1.0)],
        copy.deepcopy(common) + [dict(type='Solarize', thr=128, prob=0.2)],
    ]


class _Images(Dataset):
    """PackInputs-style samples: uint8 (3, H, W) images and a DataSample."""

    def __init__(self, num=12, size=24, seed=0):
        rng = np.random.default_rng(seed)
        self.images = torch.from_numpy(
            rng.integers(0, 256, (num, 3, size, size), dtype=np.uint8))

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return dict(inputs=self.images[i],
                    data_samples=DataSample().set_gt_label(i))


def _samples(num=6, size=24, seed=0):
    data = _Images(num, size, seed)
    return [data[i] for i in range(num)]


def test_registered_in_the_mmfa_scope():
    # mmengine's Runner looks collate functions up in its root FUNCTIONS
    # registry: the scoped name reaches mmfa's child registry
    assert MMENGINE_FUNCTIONS.get('mmfa.batch_view_collate') is \
        batch_view_collate


def test_same_views_as_the_augmentor_for_the_same_parameters():
    samples = _samples()
    views = _views()
    torch.manual_seed(123)
    out = batch_view_collate(samples, views=views)
    # independent reproduction: one draw of the global RNG seeds the batch's
    # generator (rank 0, no worker), then the augmentor makes the views
    torch.manual_seed(123)
    seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
    aug = BatchViewAugmentor(views=views)
    batch = default_collate(samples)['inputs']
    expected = aug.make_views(
        batch, generator=torch.Generator().manual_seed(seed))
    assert len(out['inputs']) == 2
    for got, exp in zip(out['inputs'], expected):
        # exact views are integer-valued: uint8 transfer is lossless
        assert got.dtype == torch.uint8
        assert torch.equal(got.float(), exp)
    assert [s.gt_label.item() for s in out['data_samples']] == list(range(6))
    assert not torch.equal(out['inputs'][0], out['inputs'][1])


def test_float_views_when_not_rounded():
    samples = _samples()
    out = batch_view_collate(samples, views=_views(), exact=False)
    assert all(v.dtype == torch.float32 for v in out['inputs'])
    # continuous values: rounding would have been lossy
    assert any((v != v.round()).any() for v in out['inputs'])


def test_ranks_draw_different_views(monkeypatch):
    import mmfa.models.utils as model_utils
    samples = _samples()
    outs = []
    for rank in (0, 1):
        monkeypatch.setattr(model_utils, 'get_rank_world',
                            lambda rank=rank: (rank, 2))
        torch.manual_seed(0)  # ranks share the run's seed
        outs.append(batch_view_collate(samples, views=_views())['inputs'][0])
    assert not torch.equal(outs[0], outs[1])


def _epochs(persistent, seed=7, epochs=2, workers=2):
    """Views of every batch of ``epochs`` epochs through a DataLoader with
    mmengine's worker seeding (the run's seed, rank 0)."""
    torch.manual_seed(seed)  # what the Runner does with randomness.seed
    loader = DataLoader(
        _Images(num=8),
        batch_size=4,
        shuffle=False,
        num_workers=workers,
        persistent_workers=persistent,
        collate_fn=partial(batch_view_collate, views=_views()),
        worker_init_fn=partial(
            mmengine_worker_init_fn, num_workers=workers, rank=0, seed=seed))
    return [[b['inputs'][0] for b in loader] for _ in range(epochs)]


def _rank_views(rank, world_size, seed):
    torch.manual_seed(seed)  # every rank has the run's seed
    return dict(views=batch_view_collate(_samples(), views=_views())['inputs'])


def test_ranks_of_a_real_process_group_draw_different_views(tmp_path):
    from tests.utils.dist import run_distributed
    res = run_distributed(_rank_views, tmp_path, world_size=2, seed=3)
    assert not torch.equal(res[0]['views'][0], res[1]['views'][0])
    # rank 0 draws as a run without a process group does
    torch.manual_seed(3)
    alone = batch_view_collate(_samples(), views=_views())['inputs']
    assert torch.equal(res[0]['views'][0], alone[0])


@pytest.mark.parametrize('persistent', [False, True])
def test_a_seed_repeats_and_epochs_differ_in_workers(persistent):
    first = _epochs(persistent)
    again = _epochs(persistent)
    for a, b in zip(first, again):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
    # same images in the same order each epoch (no shuffle): the views differ,
    # also when mmengine re-seeds the new workers of each epoch identically
    for x, y in zip(first[0], first[1]):
        assert not torch.equal(x, y)
    # the two workers draw differently
    assert not torch.equal(first[0][0], first[0][1])


def test_bad_samples_name_the_fix():
    with pytest.raises(TypeError, match='PackInputs'):
        batch_view_collate([torch.zeros(3, 8, 8)] * 2, views=_views())


# ---- BatchViewAugmentor(views=None) and channels_last ------------------------
def test_made_views_are_normalised_like_selfsup_preprocessor():
    rng = np.random.default_rng(0)
    views = [torch.from_numpy(rng.integers(0, 256, (4, 3, 8, 8),
                                            dtype=np.uint8)) for _ in range(2)]
    data = dict(inputs=views, data_samples=None)
    ref = SelfSupDataPreprocessor(**NORM)(copy.deepcopy(data), True)['inputs']
    pre = BatchViewAugmentor(views=None, **NORM)
    got = pre(copy.deepcopy(data), True)['inputs']
    for g, r in zip(got, ref):
        assert torch.equal(g, r)
        assert g.is_contiguous()
    cl = BatchViewAugmentor(views=None, channels_last=True, **NORM)
    got = cl(copy.deepcopy(data), True)['inputs']
    for g, r in zip(got, ref):
        assert torch.equal(g, r)
        assert g.is_contiguous(memory_format=torch.channels_last)
        assert not g.is_contiguous()


def test_made_views_bad_input_and_make_views_refused():
    pre = BatchViewAugmentor(views=None)
    with pytest.raises(ValueError, match=r'views=\[\[\.\.\.\], \[\.\.\.\]\]'):
        pre(dict(inputs=[torch.zeros(3, 8, 8)]), True)
    with pytest.raises(ValueError, match='makes no views'):
        pre.make_views(torch.zeros(2, 3, 8, 8))


def test_channels_last_views_augmented_on_the_device():
    x = torch.from_numpy(np.random.default_rng(1).integers(
        0, 256, (4, 3, 24, 24), dtype=np.uint8))
    ref = BatchViewAugmentor(views=_views(), **NORM)
    cl = BatchViewAugmentor(views=_views(), channels_last=True, **NORM)
    torch.manual_seed(0)
    a = ref(dict(inputs=x), True)['inputs']
    torch.manual_seed(0)
    b = cl(dict(inputs=x), True)['inputs']
    for u, v in zip(a, b):
        assert torch.equal(u, v)
        assert v.is_contiguous(memory_format=torch.channels_last)


def test_quickstart_trains_with_views_from_the_workers(tmp_path):
    """The quickstart's data path end to end: the worker's views, channels-last
    input to the backbone, a finite loss and gradients."""
    from mmengine.runner import Runner

    from mmfa.datasets import generate_shapes_cls
    from mmfa.utils import register_all_modules
    register_all_modules()
    root = str(tmp_path / 'cls')
    generate_shapes_cls(root, num_train=64, num_val=9, seed=0)
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/quickstart/'
        'parallel-predictor_resnet18-w16_1xb64-coslr-45e_shapes.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = root + '/'
    cfg.train_dataloader.batch_size = 16
    cfg.train_dataloader.num_workers = 1
    cfg.custom_hooks = []
    runner = Runner.from_cfg(cfg)
    batch = next(iter(runner.train_dataloader))
    assert [tuple(v.shape) for v in batch['inputs']] == [(16, 3, 32, 32)] * 2
    assert all(v.dtype == torch.uint8 for v in batch['inputs'])
    seen = []
    runner.model.backbone.conv1.register_forward_pre_hook(
        lambda m, args: seen.append(
            args[0].is_contiguous(memory_format=torch.channels_last)))
    runner.model.train()
    data = runner.model.data_preprocessor(batch, True)
    losses = runner.model(**data, mode='loss')
    loss, _ = runner.model.parse_losses(losses)
    loss.backward()
    assert seen == [True, True]
    assert torch.isfinite(loss)
    grad = runner.model.backbone.conv1.weight.grad
    assert grad is not None and grad.abs().sum() > 0
