# Copyright (c) mmfa contributors. All rights reserved.
"""BatchViewAugmentor: mmpretrain's per-image view transforms, batched on the
device with per-sample parameters (same distributions, same pixels)."""
import copy
import os.path as osp
import random

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import RandomApply, RandomFlip, RandomGrayscale
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.datasets.transforms import (ColorJitter, GaussianBlur,
                                            RandomResizedCrop, Solarize)
from mmpretrain.models import SelfSupDataPreprocessor
from mmpretrain.registry import TRANSFORMS
from scipy.stats import ks_2samp

import mmfa.models  # noqa: F401
from mmfa.models.data_preprocessors import (BatchViewAugmentor,
                                            split_multiview_pipeline)
from mmfa.models.data_preprocessors import batch_view_augmentor as bva
from mmfa.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
            to_rgb=True)
GREY_W = (0.114, 0.587, 0.2989)


def _view(blur, solarize, scale=32, bcs=(0.4, 0.4, 0.2, 0.1), grey=0.2):
    """BYOL's view (imagenet1k_byol-aug.py) at a small scale."""
    v = [dict(type='RandomResizedCrop', scale=scale, interpolation='bicubic',
              backend='pillow'),
         dict(type='RandomFlip', prob=0.5)]
    b, c, s, h = bcs
    jitter = dict(type='ColorJitter', brightness=b, contrast=c, saturation=s,
                  hue=h)
    v += [
        dict(type='RandomApply', prob=0.8, transforms=[jitter]),
        dict(type='RandomGrayscale', prob=grey, keep_channels=True,
             channel_weights=GREY_W)
    ]
    if blur:
        v.append(dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
                      magnitude_std='inf', prob=blur))
    if solarize:
        v.append(dict(type='Solarize', thr=128, prob=solarize))
    return v


def _smooth_images(num, h, w, seed=0):
    """Smooth colour fields with noise (like photographs, unlike pure noise)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(num):
        coarse = rng.integers(0, 256, (5, 6, 3)).astype(np.float32)
        img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
        img = img + rng.normal(0, 12, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _colour_grid():
    """Every (x, y, 200) and (x, y, y) colour: greys, pure and mixed hues."""
    v = np.arange(0, 256, 3, dtype=np.uint8)
    a, b = np.meshgrid(v, v)
    return [np.stack([a, b, np.full_like(a, 200)], -1), np.stack([a, b, b], -1)]


def _batch(imgs):
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()


def _assert_same(ours, refs, max_diff=0, max_frac=0.):
    ours = ours.permute(0, 2, 3, 1).numpy()
    d = np.abs(ours - np.stack(refs).astype(np.float32))
    assert d.max() <= max_diff, (d.max(), (d > 0).mean())
    assert (d > 0).mean() <= max_frac, (d > 0).mean()


def _close(a, b, n, what):
    """Two samples of size n come from one distribution (KS test)."""
    p = ks_2samp(np.asarray(a, float), np.asarray(b, float)).pvalue
    assert p > 1e-3, f'{what}: KS p-value {p:.2g}'


def _rate(mask, p, what):
    n = mask.numel()
    rate = mask.double().mean().item()
    assert abs(rate - p) <= 4 * (p * (1 - p) / n)**0.5 + 1e-9, (what, rate, p)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _aug(views, **kwargs):
    return BatchViewAugmentor(views=views, **dict(NORM, **kwargs))


# ---- parameter distributions ------------------------------------------------
@pytest.mark.parametrize('size,kwargs', [
    ((40, 52), {}),
    ((12, 90), dict(crop_ratio_range=(0.5, 1.))),  # mostly the fallback
])
def test_crop_parameters_match_mmpretrain(size, kwargs):
    n = 3000
    h, w = size
    ours = bva.RandomResizedCrop(32, **kwargs).sample(
        n, _gen(), torch.tensor([size]).expand(n, 2))
    ref_t = RandomResizedCrop(32, **kwargs)
    np.random.seed(0)
    img = np.zeros((h, w, 3), np.uint8)
    ref = np.array([ref_t.rand_crop_params(img) for _ in range(n)])  # oh ow th tw
    o = np.stack([ours[k].numpy() for k in ('top', 'left', 'height', 'width')], 1)
    for a, b, what in [
        (o[:, 2] * o[:, 3] / (h * w), ref[:, 2] * ref[:, 3] / (h * w), 'area'),
        (np.log(o[:, 3] / o[:, 2]), np.log(ref[:, 3] / ref[:, 2]), 'aspect'),
        (o[:, 0] / (h - o[:, 2] + 1), ref[:, 0] / (h - ref[:, 2] + 1), 'top'),
        (o[:, 1] / (w - o[:, 3] + 1), ref[:, 1] / (w - ref[:, 3] + 1), 'left'),
    ]:
        _close(a, b, n, what)
    assert (o[:, 0] + o[:, 2] <= h).all() and (o[:, 1] + o[:, 3] <= w).all()
    assert (o >= 0).all() and (o[:, 2:] > 0).all()


def test_colour_jitter_parameters_match_mmpretrain():
    n = 3000
    cj = bva.ColorJitter(0.8, 0.8, 0.8, 0.5)
    ours = cj.sample(n, _gen())
    ref_t = ColorJitter(0.8, 0.8, 0.8, 0.5)
    np.random.seed(0)
    ref = [ref_t._rand_params() for _ in range(n)]
    for k, name in enumerate(cj._NAMES):
        _close(ours[name].numpy(), [r[k + 1] for r in ref], n, name)
    # each op at each position with probability 1/4, independently per sample
    order = ours['order'].numpy()
    ref_order = np.stack([r[0] for r in ref])
    for pos in range(4):
        for op in range(4):
            _rate(torch.from_numpy(order[:, pos] == op), 0.25, 'ours')
            _rate(torch.from_numpy(ref_order[:, pos] == op), 0.25, 'ref')
    # kornia's ColorJitter would use one order for the whole batch
    assert len({tuple(o) for o in order[:64]}) > 12
    assert ours['apply'].all()  # prob defaults to 1
    assert cj.sample(n, _gen(), None)['hue'].abs().max() <= 0.5
    off = bva.ColorJitter(brightness=0.4)
    assert off.sample(4, _gen())['hue'] is None and off.hue is None


def test_application_frequencies_match_mmpretrain():
    n = 20000
    g = _gen()
    np.random.seed(0)
    random.seed(0)
    cases = [
        (bva.RandomApply([dict(type='Solarize', thr=128, prob=1.)], prob=0.8),
         'apply', 0.8,
         lambda t=RandomApply([Solarize(thr=128, prob=1.)], prob=0.8): t.
         random_apply()),
        (bva.RandomGrayscale(0.2, keep_channels=True), 'apply', 0.2,
         lambda t=RandomGrayscale(0.2): t._random_prob() < t.prob),
        (bva.GaussianBlur(magnitude_range=(0.1, 2.), magnitude_std='inf',
                          prob=0.1), 'apply', 0.1,
         lambda t=GaussianBlur(magnitude_range=(0.1, 2.), magnitude_std='inf',
                               prob=0.1): not t.random_disable()),
        (bva.Solarize(thr=128, prob=0.2), 'apply', 0.2,
         lambda t=Solarize(thr=128, prob=0.2): not t.random_disable()),
        (bva.RandomFlip(prob=0.5), 'direction', 0.5,
         lambda t=RandomFlip(prob=0.5): t._choose_direction() is not None),
    ]
    for op, key, p, ref_draw in cases:
        mask = op.sample(n, g)[key]
        mask = mask >= 0 if key == 'direction' else mask
        _rate(mask, p, op.type_name)
        _rate(torch.tensor([ref_draw() for _ in range(4000)]), p,
              f'mmpretrain {op.type_name}')
    assert bva.GaussianBlur(radius=1., prob=1.).sample(10, g)['apply'].all()
    # two directions share the probability, as in mmcv
    d = bva.RandomFlip(prob=0.6, direction=['horizontal', 'vertical']).sample(
        n, g)['direction']
    _rate(d == 0, 0.3, 'h')
    _rate(d == 1, 0.3, 'v')


@pytest.mark.parametrize('kwargs', [
    dict(magnitude_range=(0.1, 2.0), magnitude_std='inf'),
    dict(magnitude_range=(0.1, 2.0), magnitude_std=3., magnitude_level=6),
])
def test_blur_radius_distribution_matches_mmpretrain(kwargs):
    n = 3000
    ours = bva.GaussianBlur(prob=1., **kwargs).sample(n, _gen())['value']
    t = GaussianBlur(prob=1., **kwargs)
    np.random.seed(0)
    ref = [t.random_magnitude() for _ in range(n)]
    _close(ours.numpy(), ref, n, 'radius')
    assert ours.min() >= 0.1 and ours.max() <= 2.0


# ---- same pixels as the per-image transforms -----------------------------------
def _cj_ref(img, order, b=None, c=None, s=None, h=None):
    t = ColorJitter(0.9, 0.9, 0.9, 0.5)
    t._rand_params = lambda: (np.asarray(order), b, c, s, h)
    return t.transform(dict(img=img.copy()))['img']


@pytest.mark.parametrize('op', range(4),
                         ids=['brightness', 'contrast', 'saturation', 'hue'])
def test_colour_ops_equal_mmpretrain(op):
    imgs = _smooth_images(3, 40, 52) + _colour_grid()
    factors = ([0.1, 0.6, 1.0, 1.45, 1.9] if op < 3 else
               [-0.5, -0.31, -0.004, 0., 0.13, 0.5])
    cj = bva.ColorJitter(0.9, 0.9, 0.9, 0.5)
    for f in factors:
        for img in imgs:
            args = [None] * 4
            args[op] = f
            ref = _cj_ref(img, [op, 0, 1, 2], *args)
            params = dict(apply=torch.tensor([True]),
                          order=torch.tensor([[op, 0, 1, 2]]))
            for k, name in enumerate(cj._NAMES):
                params[name] = (None if args[k] is None else torch.tensor(
                    [f], dtype=torch.float64))
            _assert_same(cj.apply(_batch([img]), params), [ref])


def test_colour_jitter_random_order_equals_mmpretrain():
    imgs = _smooth_images(8, 40, 52, seed=1)
    cj = bva.ColorJitter(0.8, 0.8, 0.8, 0.5)
    params = cj.sample(8, _gen(3))
    refs = [
        _cj_ref(img, params['order'][i].numpy(),
                *(params[name][i].item() for name in cj._NAMES))
        for i, img in enumerate(imgs)
    ]
    _assert_same(cj.apply(_batch(imgs), params), refs)


def test_grey_blur_solarize_flip_equal_mmpretrain():
    imgs = _smooth_images(4, 40, 52)
    x = _batch(imgs)
    on = torch.ones(len(imgs), dtype=torch.bool)
    grey = RandomGrayscale(1., keep_channels=True, channel_weights=GREY_W)
    for batch in (imgs, _colour_grid()):  # the grid has grey pixels
        _assert_same(
            bva.RandomGrayscale(1., True, GREY_W).apply(
                _batch(batch), dict(apply=torch.ones(len(batch), dtype=bool))),
            [grey.transform(dict(img=i.copy()))['img'] for i in batch])
    for radius in (0.1, 0.7, 1.3, 2.0, 5.0):  # 5.0: the float64 path
        ref_t = GaussianBlur(radius=radius, prob=1.)
        ref_t.random_disable = lambda: False
        value = torch.full((len(imgs), ), radius, dtype=torch.float64)
        _assert_same(
            bva.GaussianBlur(radius=radius, prob=1.).apply(
                x, dict(apply=on, value=value)),
            [ref_t.transform(dict(img=i.copy()))['img'] for i in imgs])
    for thr in (128, 77.5):
        ref_t = Solarize(thr=thr, prob=1.)
        ref_t.random_disable = lambda: False
        value = torch.full((len(imgs), ), thr, dtype=torch.float64)
        _assert_same(
            bva.Solarize(thr=thr, prob=1.).apply(x, dict(apply=on,
                                                         value=value)),
            [ref_t.transform(dict(img=i.copy()))['img'] for i in imgs])
    dirs = ['horizontal', 'vertical', 'diagonal']
    op = bva.RandomFlip(prob=0.9, direction=dirs)
    direction = torch.tensor([0, 1, 2, -1])
    refs = []
    for img, d in zip(imgs, direction.tolist()):
        t = RandomFlip(prob=0.9, direction=dirs)
        t._choose_direction = lambda d=d: None if d < 0 else dirs[d]
        refs.append(t.transform(dict(img=img.copy()))['img'])
    _assert_same(op.apply(x, dict(direction=direction)), refs)


@pytest.mark.parametrize('backend,interp,tol', [
    # Pillow's 22-bit fixed-point coefficients: +-1 at near-ties
    ('pillow', 'bicubic', 0.02), ('pillow', 'bilinear', 0.05),
    ('pillow', 'lanczos', 0.02), ('pillow', 'nearest', 0.),
    ('cv2', 'bicubic', 0.02), ('cv2', 'nearest', 0.),
    # cv2's 11-bit fixed-point bilinear coefficients: +-1 on some pixels
    ('cv2', 'bilinear', 0.25)
])
def test_resized_crop_equals_mmpretrain(backend, interp, tol):
    imgs = _smooth_images(5, 40, 52)
    # down / whole / up / vertical pass first in Pillow / tiny
    boxes = [(3, 5, 30, 20), (0, 0, 40, 52), (10, 2, 17, 33), (1, 40, 39, 12),
             (4, 13, 36, 33), (20, 30, 5, 7)]
    imgs += imgs[:1]
    for scale in (32, (24, 40)):
        refs = []
        for img, box in zip(imgs, boxes):
            t = RandomResizedCrop(scale, interpolation=interp, backend=backend)
            t.rand_crop_params = lambda _, box=box: box
            refs.append(t.transform(dict(img=img.copy()))['img'])
        b = torch.tensor(boxes)
        out = bva.RandomResizedCrop(
            scale, interpolation=interp, backend=backend).apply(
                _batch(imgs), dict(top=b[:, 0], left=b[:, 1], height=b[:, 2],
                                   width=b[:, 3]))
        _assert_same(out, refs, max_diff=1 if tol else 0, max_frac=tol)


def _patch(t, p, i):
    """Make the per-image transform ``t`` draw sample i's batched params."""
    if isinstance(t, RandomResizedCrop):
        box = tuple(int(p[k][i]) for k in ('top', 'left', 'height', 'width'))
        t.rand_crop_params = lambda _: box
    elif isinstance(t, RandomFlip):
        d = int(p['direction'][i])
        t._choose_direction = lambda: None if d < 0 else 'horizontal'
    elif isinstance(t, RandomApply):
        t.random_apply = lambda: bool(p['apply'][i])
        for inner, q in zip(t.transforms.transforms, p['transforms']):
            _patch(inner, q, i)
    elif isinstance(t, ColorJitter):
        args = tuple(p[k][i].item() for k in bva.ColorJitter._NAMES)
        t._rand_params = lambda: (p['order'][i].numpy(), *args)
    elif isinstance(t, RandomGrayscale):
        t._random_prob = lambda: 0. if p['apply'][i] else 1.
    elif isinstance(t, (GaussianBlur, Solarize)):
        t.random_disable = lambda: not p['apply'][i]
        t.random_magnitude = lambda: p['value'][i].item()


@pytest.mark.parametrize('seed', [0, 1])
def test_whole_view_equals_per_image_pipeline(seed):
    """A BYOL view with every transform, the batched parameters patched into
    mmpretrain's per-image transforms. Nearest-neighbour resizing keeps the
    comparison exact (the colour ops amplify a +-1 resize difference)."""
    views = [_view(0.5, 0.5, scale=32, bcs=(0.8, 0.8, 0.8, 0.5), grey=0.3)]
    views[0][0]['interpolation'] = 'nearest'
    torch.manual_seed(seed)
    aug = _aug(views)
    imgs = _smooth_images(12, 48, 64, seed=2)
    params = aug.sample_view(0, 12, torch.tensor([[48, 64]]).expand(12, 2))
    out = aug.apply_view(0, _batch(imgs), params)
    refs = []
    for i, img in enumerate(imgs):
        results = dict(img=img.copy())
        for cfg, p in zip(views[0], params):
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                t = TRANSFORMS.build(copy.deepcopy(cfg))
            _patch(t, p, i)
            results = t(results)
        refs.append(results['img'])
    _assert_same(out, refs)


# ---- randomness ------------------------------------------------------------
def _inputs(n=8, size=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8,
                         generator=g)


def test_views_differ_seed_reproduces_ranks_differ(monkeypatch):
    x = _inputs()
    views = [_view(1., 0.), _view(0.1, 0.2)]
    torch.manual_seed(0)
    a = _aug(views)
    torch.manual_seed(0)
    b = _aug(views)
    out_a, out_b = a(dict(inputs=x)), b(dict(inputs=x))
    for va, vb in zip(out_a['inputs'], out_b['inputs']):
        assert va.shape == (8, 3, 32, 32) and va.dtype == torch.float32
        assert torch.equal(va, vb)
    v1, v2 = out_a['inputs']
    assert not torch.equal(v1, v2)  # two views of one image differ
    assert not torch.equal(a(dict(inputs=x))['inputs'][0], v1)  # stream moves
    torch.manual_seed(0)
    monkeypatch.setattr(bva, 'get_rank_world', lambda: (1, 2))
    c = _aug(views)
    assert not torch.equal(c(dict(inputs=x))['inputs'][0], v1)


def test_global_rng_untouched():
    x = _inputs()
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    _aug([_view(1., 0.), _view(0.1, 0.2)])(dict(inputs=x))
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]


def test_chunking_does_not_change_views():
    x = _inputs(n=6, size=24)
    views = [_view(1., 0.2, scale=16), _view(0.5, 0.5, scale=16)]
    torch.manual_seed(0)
    whole = _aug(views)(dict(inputs=x))['inputs']
    torch.manual_seed(0)
    chunked = _aug(views, cpu_chunk_values=3 * 24 * 24)(dict(inputs=x))['inputs']
    for a, b in zip(whole, chunked):
        assert torch.equal(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_gpu_views_equal_cpu_views():
    """The same seed gives the same parameters (drawn on the host) and, up to
    float rounding at ties, the same pixels on the GPU."""
    x = _inputs(n=16, size=64)
    views = [_view(1., 0.2, scale=48, bcs=(0.8, 0.8, 0.8, 0.5), grey=0.3),
             _view(0.5, 0.5, scale=32)]
    outs = []
    for device in ('cpu', 'cuda'):
        torch.manual_seed(0)
        aug = _aug(views).to(device)
        outs.append(aug.make_views(x.to(device)))
    for cpu, gpu in zip(*outs):
        d = (cpu - gpu.cpu()).abs()
        assert d.max() <= 1 and (d > 0).float().mean() < 0.01


# ---- inputs ------------------------------------------------------------------
def test_input_layouts():
    x = _inputs(n=4)
    views = [_view(1., 0.), _view(0.1, 0.2)]

    def run(inputs, aug_views=views, training=True):
        torch.manual_seed(0)
        return _aug(aug_views)(dict(inputs=inputs, data_samples=None),
                               training)['inputs']

    ref = run(x)
    for layout in ([x], list(x), [[t] for t in x]):
        for a, b in zip(run(layout), ref):
            assert torch.equal(a, b)
    # eval mode makes the views too
    for a, b in zip(run(x, training=False), ref):
        assert torch.equal(a, b)
    # two sources: view spec v on source v; without transforms this is
    # exactly SelfSupDataPreprocessor
    srcs = [x, _inputs(n=4, seed=1)]
    plain = SelfSupDataPreprocessor(**NORM)(dict(inputs=srcs,
                                                 data_samples=None))['inputs']
    for layout in (srcs, [[a, b] for a, b in zip(*srcs)]):
        for a, b in zip(run(layout, [[], []]), plain):
            assert torch.equal(a, b)
    # one source, two views: both from it
    one = run(x, [[], []])
    assert torch.equal(one[0], one[1]) and torch.equal(one[0], plain[0])
    # images of different sizes: each view starts with RandomResizedCrop
    ragged = [_inputs(1, 40)[0], _inputs(1, 36, seed=2)[0][:, :, :30]]
    for v in run(ragged):
        assert v.shape == (2, 3, 32, 32)


def test_bad_configs_and_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"valid types: \['ColorJitter'"):
        _aug([[dict(type='ColourJitter')]])
    with pytest.raises(ValueError, match=r"argument\(s\) \['strength'\].*"
                       r"valid arguments: \['brightness'"):
        _aug([[dict(type='ColorJitter', strength=0.4)]])
    with pytest.raises(ValueError, match='inside RandomApply'):
        _aug([[dict(type='RandomApply', transforms=[
            dict(type='RandomResizedCrop', scale=8)])]])
    with pytest.raises(ValueError, match='keep_channels=True'):
        _aug([[dict(type='RandomGrayscale', prob=0.2)]])
    with pytest.raises(ValueError, match="not supported with backend 'cv2'"):
        _aug([[dict(type='RandomResizedCrop', scale=8, interpolation='lanczos')]])
    with pytest.raises(ValueError, match="backend='pillow'"):
        _aug([[dict(type='ColorJitter', brightness=0.4, backend='cv2')]])
    with pytest.raises(ValueError, match='exactly one of'):
        _aug([[dict(type='GaussianBlur', prob=0.5)]])
    with pytest.raises(ValueError, match='probability'):
        _aug([[dict(type='Solarize', thr=128, prob=1.5)]])
    with pytest.raises(ValueError, match='non-empty list'):
        _aug([])
    aug = _aug([[], []])
    with pytest.raises(ValueError, match='3 views per sample but 2 view specs'):
        aug(dict(inputs=[_inputs()] * 3))
    with pytest.raises(ValueError, match='start with RandomResizedCrop'):
        aug(dict(inputs=[_inputs(1, 40)[0], _inputs(1, 30)[0]]))
    with pytest.raises(ValueError, match='3-channel'):
        aug(dict(inputs=torch.zeros(2, 1, 8, 8, dtype=torch.uint8)))


def test_split_multiview_pipeline():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/imagenet1k_byol-aug.py'))
    workers, views = split_multiview_pipeline(cfg.byol_pipeline)
    assert [t['type'] for t in workers] == ['LoadImageFromFile', 'MultiView',
                                            'PackInputs']
    assert [[t['type'] for t in v] for v in workers[1]['transforms']] == [
        ['RandomResizedCrop', 'RandomFlip']] * 2
    assert [t['type'] for t in views[1]] == [
        'RandomApply', 'RandomGrayscale', 'GaussianBlur', 'Solarize']
    workers, views = split_multiview_pipeline(cfg.byol_pipeline, ())
    assert [t['type'] for t in workers] == ['LoadImageFromFile', 'PackInputs']
    assert views[0][0]['type'] == 'RandomResizedCrop'
    assert len(_aug(views).views) == 2


# ---- in a model and a config -------------------------------------------------
def test_runner_trains_with_the_batched_path(tmp_path):
    import mmpretrain.utils
    from mmengine.runner import Runner

    import mmfa.engine  # noqa: F401
    from tests.utils import make_image_folder
    mmpretrain.utils.register_all_modules(init_default_scope=False)
    data = make_image_folder(str(tmp_path / 'data'), num_images=8, size=40)
    cfg = Config.fromfile(osp.join(ROOT, 'tests/data/tiny_fa_pretrain.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.dataset.data_root = data
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    cfg.model.data_preprocessor = dict(
        type='BatchViewAugmentor',
        views=[
            _view(1., 0., scale=32, bcs=(0.8, 0.8, 0.8, 0.5), grey=0.5),
            _view(0.1, 0.2, scale=32, bcs=(0.8, 0.8, 0.8, 0.5), grey=0.5)
        ], **NORM)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10)
    cfg.randomness = dict(seed=0)
    runner = Runner.from_cfg(cfg)
    assert type(runner.model.data_preprocessor).__name__ == 'BatchViewAugmentor'
    runner.train()
    scalars = runner.message_hub.log_scalars
    assert runner.iter == 2 and np.isfinite(scalars['train/loss'].current())


def test_paper_config_switches_to_the_batched_path(tmp_path):
    """A paper leaf with the dataset base replaced (one _base_ entry) and the
    one-line data_preprocessor override."""
    fa_id = osp.join(ROOT, 'configs/selfsup/fa_id')
    base_leaf = 'parallel-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py'
    nn_leaf = 'parallel-predictor-nn_resnet50_8xb64-accum8-coslr-200e_in100.py'
    with open(osp.join(fa_id, base_leaf)) as f:
        text = f.read()
    text = text.replace("'../../", f"'{ROOT}/configs/")
    assert 'imagenet100_byol-aug.py' in text
    text = text.replace('imagenet100_byol-aug.py',
                        'imagenet100_byol-aug_batched.py')
    text += 'model = dict(data_preprocessor=_base_.data_preprocessor)\n'
    (tmp_path / base_leaf).write_text(text)
    with open(osp.join(fa_id, nn_leaf)) as f:
        (tmp_path / nn_leaf).write_text(f.read())
    cfg = Config.fromfile(str(tmp_path / nn_leaf))
    assert cfg.model.head.augmenter.type == 'NearestNeighborFA'
    dp = cfg.model.data_preprocessor
    assert dp.type == 'BatchViewAugmentor' and dp.to_rgb
    assert cfg.train_dataloader.dataset.data_root == 'data/imagenet100/'
    mv = cfg.train_dataloader.dataset.pipeline[1]
    assert [[t.type for t in v] for v in mv.transforms] == [
        ['RandomResizedCrop', 'RandomFlip']] * 2
    assert mv.transforms[0][0].backend == 'pillow'
    aug = MODELS.build(dp)

    def probs(ops):
        return {op.type_name: op.prob for op in ops}

    # BYOL's asymmetric views: blur 1.0 / no solarize, blur 0.1 / solarize 0.2
    v1, v2 = (probs(v) for v in aug.views)
    assert v1 == dict(RandomApply=0.8, RandomGrayscale=0.2, GaussianBlur=1.0)
    assert v2 == dict(RandomApply=0.8, RandomGrayscale=0.2, GaussianBlur=0.1,
                      Solarize=0.2)
    cj = aug.views[0][0].transforms[0]
    assert (cj.brightness, cj.hue) == ((0.6, 1.4), (-0.1, 0.1))
    # another DA setting of Table III: one more override
    (tmp_path / 'symm_strong.py').write_text(
        f"_base_ = './{nn_leaf}'\nmodel = dict(data_preprocessor=dict("
        'views=_base_.symm_strong_views))\n')
    cfg = Config.fromfile(str(tmp_path / 'symm_strong.py'))
    aug = MODELS.build(cfg.model.data_preprocessor)
    assert all(probs(v) == dict(RandomApply=0.8, RandomGrayscale=0.2,
                                GaussianBlur=1.0, Solarize=0.2)
               for v in aug.views)
    assert cfg.symm_weak_pipeline == cfg.train_dataloader.dataset.pipeline


def test_colorjitter_yiq_hue_keeps_luma_and_hsv_does_not():
    """hue_space='yiq' rotates chroma only: the luma of every pixel is kept (to
    float rounding), a half turn maps a colour to its complement about the grey of
    equal luma; the default HSV rotation changes luma (the quickstart's cause)."""
    from mmfa.models.data_preprocessors.batch_view_augmentor import ColorJitter
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 6, 6, generator=gen) * 255  # BGR
    w = torch.tensor([0.114, 0.587, 0.299]).view(1, 3, 1, 1)
    factor = torch.full((8, ), 0.5, dtype=torch.float64)
    yiq = ColorJitter(hue=0.5, hue_space='yiq')
    yiq.uint8_rounding = False
    out = yiq._hue(x, factor)
    luma_in, luma_out = (x * w).sum(1), (out * w).sum(1)
    inside = ((out > 0) & (out < 255)).all(1)  # no clipping there
    assert inside.float().mean() > 0.3
    assert torch.allclose(luma_in[inside], luma_out[inside], atol=1e-3)
    # half a turn: chroma negated, x + out = 2 * (the grey of equal luma)
    grey = luma_in.unsqueeze(1).expand_as(x)
    ok = inside.unsqueeze(1).expand_as(x)
    assert torch.allclose((x + out)[ok], (2 * grey)[ok], atol=1e-2)
    hsv = ColorJitter(hue=0.5)
    hsv_out = hsv._hue(x.floor(), factor)
    assert (hsv_out * w).sum(1).sub(luma_in).abs().mean() > 10
    with pytest.raises(ValueError, match="hue_space"):
        ColorJitter(hue=0.1, hue_space='lab')


# ---- exact=False: same parameters, cheaper kernels ----------------------------
def _independent_jitter(x, order, factors, luma_w):
    """Brightness / contrast / saturation / YIQ hue applied one op at a time in
    each sample's order, in float64, without clipping between ops (the
    semantics of the fused affine path), written with plain tensor ops."""
    out = []
    fwd = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                        [0.211, -0.523, 0.312]], dtype=torch.float64)[:, [2, 1, 0]]
    for i in range(x.shape[0]):
        y = x[i].double()
        for k in order[i].tolist():
            f = float(factors[k][i])
            luma = (y * luma_w.view(3, 1, 1)).sum(0)
            if k == 0:
                y = y * f
            elif k == 1:
                y = y * f + (1 - f) * luma.mean()
            elif k == 2:
                y = y * f + (1 - f) * luma
            else:
                t = f * 2 * np.pi
                rot = torch.tensor([[1, 0, 0], [0, np.cos(t), -np.sin(t)],
                                    [0, np.sin(t), np.cos(t)]],
                                   dtype=torch.float64)
                y = torch.einsum('ij,jhw->ihw',
                                 torch.linalg.inv(fwd) @ rot @ fwd, y)
        out.append(y.clamp(0, 255))
    return torch.stack(out).float()


def test_approximate_jitter_is_the_composed_affine_map():
    """exact=False, YIQ hue: every sample's four ops in its own order, composed
    into one matrix + offset, equal the ops applied one by one (no clipping in
    between), including contrast's mean luma after the preceding ops."""
    cj = bva.ColorJitter(brightness=0.6, contrast=0.6, saturation=0.6, hue=0.4,
                         hue_space='yiq')
    cj.exact, cj.uint8_rounding = False, False
    x = torch.rand(16, 3, 9, 7, generator=_gen(1)) * 255
    p = cj.sample(16, _gen(2))
    p['apply'][:] = True
    ours = cj.apply(x, p)
    factors = [p[name] for name in cj._NAMES]
    luma_w = bva._PIL_L_WEIGHTS_BGR.double() / 65536.
    ref = _independent_jitter(x, p['order'], factors, luma_w)
    assert torch.allclose(ours, ref, atol=2e-3), (ours - ref).abs().max()
    # samples that skip the jitter pass through unchanged
    p['apply'][::2] = False
    out = cj.apply(x, p)
    assert torch.allclose(out[::2], x[::2], atol=1e-3)
    assert torch.allclose(out[1::2], ref[1::2], atol=2e-3)


@pytest.mark.parametrize('op', ['crop', 'blur', 'hsv_hue'])
def test_approximate_kernels_are_close_to_exact(op):
    """exact=False changes the kernels, not the parameters: the approximate crop
    (roi_align), Gaussian blur and float HSV hue stay within a few grey levels
    of the exact Pillow arithmetic on smooth images."""
    imgs = _batch(_smooth_images(24, 48, 56, seed=3))
    if op == 'crop':
        t = bva.RandomResizedCrop(32, interpolation='bicubic', backend='pillow')
        p = t.sample(24, _gen(4), torch.tensor([[48, 56]]).expand(24, 2))
        tol = 4.0
    elif op == 'blur':
        t = bva.GaussianBlur(magnitude_range=(0.1, 2.0), magnitude_std='inf',
                             prob=1.)
        p = t.sample(24, _gen(4))
        tol = 2.0
    else:
        t = bva.ColorJitter(hue=0.5)
        p = t.sample(24, _gen(4))
        p['apply'][:] = True
        tol = 3.0
    exact = t.apply(imgs, p)
    t.exact, t.uint8_rounding = False, False
    approx = t.apply(imgs, p)
    assert approx.shape == exact.shape
    assert (approx - exact).abs().mean() < tol, (approx - exact).abs().mean()
    assert not torch.equal(approx, exact)  # the other kernels did run


def test_approximate_mode_draws_the_same_parameters():
    """Same seed, exact or not: the same crops (compare geometry through a
    coordinate image) and the same random stream afterwards."""
    views = [_view(1.0, 0.0), _view(0.1, 0.2)]
    yy, xx = torch.meshgrid(torch.arange(48.), torch.arange(48.), indexing='ij')
    coords = torch.stack([yy * 5, xx * 5, torch.full_like(xx, 128.)])
    inputs = coords.round().clamp(0, 255).to(torch.uint8).expand(6, 3, 48, 48)
    a = BatchViewAugmentor(views=[[views[0][0]]])
    b = BatchViewAugmentor(views=[[views[0][0]]], exact=False)
    for aug in (a, b):
        aug._generator = _gen(7)
    va, vb = a.make_views(inputs)[0], b.make_views(inputs)[0]
    # the crop boxes agree: the coordinate ramps agree up to interpolation
    assert (va - vb)[:, :2].abs().mean() < 3
    assert torch.equal(a.generator().get_state(), b.generator().get_state())
    assert b.uint8_rounding is False and 'exact=False' in repr(b)
