# Copyright (c) mmfa contributors. All rights reserved.
"""Batched, per-sample view augmentation on the training device.

Self-supervised pre-training (Zhang et al., "Feature Augmentation for
Self-supervised Contrastive Learning: A Closer Look", arXiv:2410.12396) makes two
heavily augmented views of every image per step. mmpretrain's pipeline does that
image by image in the data-loader workers, which bounds the step rate on few CPU
cores. :class:`BatchViewAugmentor` is a drop-in data preprocessor that applies the
same transforms (same type and argument names, same parameter distributions, same
pixel arithmetic) to the whole batch on the model's device, with independent
random parameters per sample and per view.

Pixel semantics follow mmpretrain 1.2 / mmcv 2.1 / Pillow: the images stay BGR
uint8-valued floats in [0, 255] and, with ``uint8_rounding=True``, are rounded (or
truncated) after every transform the way the per-image transform stores its uint8
result. With the same parameters the colour jitter, grayscale, blur, solarisation
and flip give the per-image pixels exactly, the crop-and-resize within one grey
level (cv2's and Pillow's fixed-point coefficients).
"""
import copy
import math
import numbers
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpretrain.models import SelfSupDataPreprocessor
from torch import Tensor

from mmfa.registry import MODELS
from ..utils import get_rank_world

__all__ = [
    'BatchViewAugmentor', 'BATCHED_TRANSFORMS', 'build_batched_transform',
    'split_multiview_pipeline'
]

#: Added to the seed so that this stream differs from the FA methods' generators,
#: which are seeded with ``torch.initial_seed() + rank`` too.
_SEED_OFFSET = 0x5EED_A0617E17

Params = Dict[str, object]


# --------------------------------------------------------------------------- #
# helpers                                                                      #
# --------------------------------------------------------------------------- #
def _check_args(type_name: str, cfg: dict, valid: Sequence[str]) -> None:
    unknown = sorted(set(cfg) - set(valid))
    if unknown:
        raise ValueError(
            f'BatchViewAugmentor: {type_name} does not support argument(s) '
            f'{unknown}; valid arguments: {list(valid)}.')


def _prob(type_name: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not 0 <= value <= 1:
        raise ValueError(f'BatchViewAugmentor: {type_name}.{name} must be a '
                         f'probability in [0, 1], got {value!r}.')
    return float(value)


def _subset_apply(x: Tensor, mask: Tensor, fn, *per_sample: Tensor) -> Tensor:
    """``fn`` on the samples where the host bool ``mask`` is set; the others pass
    through. ``per_sample`` host tensors are indexed alike and passed to ``fn``."""
    if not bool(mask.any()):
        return x
    if bool(mask.all()):
        return fn(x, *per_sample)
    idx = mask.nonzero().squeeze(1)
    sub = fn(x.index_select(0, idx.to(x.device)), *(p[idx] for p in per_sample))
    return x.index_copy(0, idx.to(x.device), sub)


def _kornia():
    # imported at first use: importing mmfa.models should not cost kornia's
    # import time (~0.3 s) in every tool and data-loader process
    import kornia
    return kornia


def _col(values, x: Tensor, dtype=None) -> Tensor:
    """Host per-sample values as an (n, 1, 1, 1) tensor on ``x``'s device."""
    t = torch.as_tensor(values, dtype=dtype or x.dtype)
    return t.to(x.device, non_blocking=True).view(-1, 1, 1, 1)


class _Transform:
    """One batched transform: draws per-sample parameters from a host generator
    (:meth:`sample`) and applies them to a float batch in [0, 255] (:meth:`apply`).

    Attributes:
        uint8_rounding (bool): Round / truncate after the transform the way the
            per-image transform stores its uint8 result (set by the augmentor).
        exact (bool): Reproduce the per-image transform's arithmetic (Pillow /
            cv2); False uses cheaper float kernels with the same parameters
            (set by the augmentor, see ``BatchViewAugmentor(exact=...)``).
    """

    type_name = ''
    valid_args: Tuple[str, ...] = ()
    #: Whether the transform decides the output size (must run on full batches).
    resizes = False

    def __init__(self) -> None:
        self.uint8_rounding = True
        self.exact = True

    def sample(self, n: int, gen: torch.Generator,
               sizes: Optional[Tensor] = None) -> Params:
        raise NotImplementedError

    def apply(self, x: Tensor, params: Params) -> Tensor:
        raise NotImplementedError

    def __call__(self, x: Tensor, gen: torch.Generator,
                 sizes: Optional[Tensor] = None) -> Tensor:
        return self.apply(x, self.sample(x.shape[0], gen, sizes))

    def _floor(self, x: Tensor) -> Tensor:
        x = x.clamp(0, 255)
        return x.floor() if self.uint8_rounding else x

    def _round(self, x: Tensor) -> Tensor:
        # C's (v + 0.5) truncation of non-negative values, not round-half-even
        x = x.clamp(0, 255)
        return (x + 0.5).floor() if self.uint8_rounding else x

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={getattr(self, k)!r}' for k in self.valid_args
                         if hasattr(self, k))
        return f'{self.type_name}({args})'


# --------------------------------------------------------------------------- #
# RandomResizedCrop                                                            #
# --------------------------------------------------------------------------- #
def _pil_bilinear(d: Tensor) -> Tensor:
    return (1 - d.abs()).clamp(min=0)


def _pil_bicubic(d: Tensor) -> Tensor:
    a = -0.5  # Pillow's bicubic (cv2 / torch use -0.75)
    d = d.abs()
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = (((d - 5) * d + 8) * d - 4) * a
    return torch.where(d < 1, near, torch.where(d < 2, far, torch.zeros_like(d)))


def _pil_lanczos(d: Tensor) -> Tensor:
    return torch.where(d.abs() < 3,
                       torch.sinc(d) * torch.sinc(d / 3), torch.zeros_like(d))


_PIL_FILTERS = {
    'bilinear': (1.0, _pil_bilinear),
    'bicubic': (2.0, _pil_bicubic),
    'lanczos': (3.0, _pil_lanczos),
}


def _cv2_cubic(t: Tensor) -> List[Tensor]:
    """cv2's (and torch's) cubic coefficients, A = -0.75, taps -1..2."""
    A = -0.75
    c0 = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A
    c1 = ((A + 2) * t - (A + 3)) * t * t + 1
    c2 = ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1
    return [c0, c1, c2, 1 - c0 - c1 - c2]


def resample_weights(start: Tensor, length: Tensor, out_size: int,
                     in_size: int, interpolation: str,
                     backend: str) -> Tensor:
    """Per-sample 1-D resampling matrices of "crop [start, start + length), then
    resize to ``out_size``" (the crop, then ``mmcv.imresize``), (n, out, in).

    ``backend='pillow'`` reproduces Pillow's ``Image.resize`` (separable filters
    whose support grows with the downscaling factor, i.e. antialiased, rows
    renormalised at the crop border); ``backend='cv2'`` reproduces
    ``cv2.resize`` (half-pixel centres, no antialiasing, replicated border).

    Args:
        start (Tensor): (n, ) crop offsets, on the target device.
        length (Tensor): (n, ) crop lengths.
        out_size (int): Output length.
        in_size (int): Source length (the padded one for ragged batches).
        interpolation (str): 'nearest', 'bilinear', 'bicubic' or (pillow)
            'lanczos'.
        backend (str): 'cv2' or 'pillow'.
    """
    dt = torch.float64
    dev = start.device
    i = torch.arange(out_size, device=dev, dtype=dt).view(1, -1, 1)
    j = torch.arange(in_size, device=dev, dtype=dt).view(1, 1, -1)
    o = start.to(dt).view(-1, 1, 1)
    L = length.to(dt).view(-1, 1, 1)
    # tensor / tensor divisions (a scalar divisor may become a multiplication
    # by its reciprocal); cv2 uses the reciprocal of dsize / ssize. Both matter
    # where i * scale is an integer.
    size = torch.full_like(L, float(out_size))
    scale = L / size if backend == 'pillow' else 1.0 / (size / L)
    if interpolation == 'nearest':
        # Pillow: floor((i + .5) * s); cv2: floor(i * s)
        pos = (i + 0.5) * scale if backend == 'pillow' else i * scale
        src = torch.minimum(pos.floor(), L - 1)
        return (j == o + src).float()
    if backend == 'pillow':
        support, kernel = _PIL_FILTERS[interpolation]
        fscale = scale.clamp(min=1.0)
        d = (j - o + 0.5 - (i + 0.5) * scale) / fscale
        inside = (j >= o) & (j < o + L)
        w = torch.where(inside, kernel(d), torch.zeros_like(d))
        total = w.sum(-1, keepdim=True)
        return (w / torch.where(total == 0, torch.ones_like(total),
                                total)).float()
    src = ((i + 0.5) * scale - 0.5).float().double()  # cv2: a C float
    if interpolation == 'bilinear':
        src = src.clamp(min=0)
        x0 = src.floor()
        lam = src - x0
        taps = [(x0, 1 - lam), (x0 + 1, lam)]
    else:  # bicubic
        x0 = src.floor()
        coeffs = _cv2_cubic(src - x0)
        taps = [(x0 + k - 1, c) for k, c in enumerate(coeffs)]
    w = torch.zeros(start.shape[0], out_size, in_size, device=dev, dtype=dt)
    for pos, c in taps:
        pos = o + torch.minimum(pos.clamp(min=0), L - 1)  # replicated border
        w = w + torch.where(j == pos, c, torch.zeros_like(c))
    return w.float()


class RandomResizedCrop(_Transform):
    """Batched ``mmpretrain.RandomResizedCrop`` (same arguments).

    Parameters: the same attempts (area fraction uniform in ``crop_ratio_range``,
    log aspect ratio uniform, ``round`` to integer sides, first attempt that fits)
    and the same central-crop fallback, drawn per sample. Written here rather
    than with ``kornia.augmentation.RandomResizedCrop``, whose crop sampling
    (rounding, fallback) differs and whose warp (``grid_sample`` with
    corner-aligned boxes, no antialiasing) is neither ``cv2.resize`` nor Pillow's
    resize. Each sample's crop-and-resize is a pair of separable resampling
    matrices, so the whole batch is two batched matmuls.
    """

    type_name = 'RandomResizedCrop'
    valid_args = ('scale', 'crop_ratio_range', 'aspect_ratio_range',
                  'max_attempts', 'interpolation', 'backend')
    resizes = True
    _INTERPOLATIONS = {
        'cv2': ('nearest', 'bilinear', 'bicubic'),
        'pillow': ('nearest', 'bilinear', 'bicubic', 'lanczos'),
    }

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2') -> None:
        super().__init__()
        if isinstance(scale, numbers.Integral):
            scale = (scale, scale)
        if len(scale) != 2 or min(scale) <= 0:
            raise ValueError(f'BatchViewAugmentor: RandomResizedCrop.scale must '
                             f'be a positive int or (h, w), got {scale!r}.')
        self.scale = (int(scale[0]), int(scale[1]))
        for name, rng in (('crop_ratio_range', crop_ratio_range),
                          ('aspect_ratio_range', aspect_ratio_range)):
            if len(rng) != 2 or rng[0] > rng[1] or rng[0] <= 0:
                raise ValueError(
                    f'BatchViewAugmentor: RandomResizedCrop.{name} must be '
                    f'(min, max) with 0 < min <= max, got {rng!r}.')
        self.crop_ratio_range = tuple(float(v) for v in crop_ratio_range)
        self.aspect_ratio_range = tuple(float(v) for v in aspect_ratio_range)
        if not isinstance(max_attempts, int) or max_attempts < 0:
            raise ValueError('BatchViewAugmentor: RandomResizedCrop.max_attempts '
                             f'must be an int >= 0, got {max_attempts!r}.')
        self.max_attempts = max_attempts
        if backend not in self._INTERPOLATIONS:
            raise ValueError('BatchViewAugmentor: RandomResizedCrop.backend must '
                             f"be one of {list(self._INTERPOLATIONS)}, got "
                             f'{backend!r}.')
        if interpolation not in self._INTERPOLATIONS[backend]:
            raise ValueError(
                f'BatchViewAugmentor: RandomResizedCrop.interpolation '
                f'{interpolation!r} is not supported with backend {backend!r}; '
                f'valid: {list(self._INTERPOLATIONS[backend])}.')
        self.interpolation = interpolation
        self.backend = backend

    def sample(self, n, gen, sizes=None) -> Params:
        """Crop boxes (n, ) ``top``, ``left``, ``height``, ``width`` (int64)."""
        if sizes is None:
            raise ValueError('RandomResizedCrop.sample needs the source sizes')
        dt = torch.float64
        h = sizes[:, 0].to(dt).view(-1, 1)
        w = sizes[:, 1].to(dt).view(-1, 1)
        a = max(self.max_attempts, 1)
        lo, hi = self.crop_ratio_range
        area = (lo + (hi - lo) * torch.rand(n, a, generator=gen, dtype=dt)) * h * w
        llo, lhi = (math.log(r) for r in self.aspect_ratio_range)
        ratio = torch.exp(llo + (lhi - llo) *
                          torch.rand(n, a, generator=gen, dtype=dt))
        u_off = torch.rand(n, 2, generator=gen, dtype=dt)
        # round half to even, like Python's round()
        tw = torch.round(torch.sqrt(area * ratio))
        th = torch.round(torch.sqrt(area / ratio))
        fits = (tw > 0) & (tw <= w) & (th > 0) & (th <= h)
        if self.max_attempts == 0:
            fits[:] = False
        first = fits.to(torch.uint8).argmax(1, keepdim=True)
        found = fits.any(1)
        th = th.gather(1, first).squeeze(1)
        tw = tw.gather(1, first).squeeze(1)
        h, w = h.squeeze(1), w.squeeze(1)
        top = torch.floor(u_off[:, 0] * (h - th + 1))
        left = torch.floor(u_off[:, 1] * (w - tw + 1))
        # fallback: the central crop with the aspect ratio clamped to the range
        rmin, rmax = self.aspect_ratio_range
        in_ratio = w / h
        fb_w = torch.where(in_ratio > rmax, torch.round(h * rmax), w)
        fb_h = torch.where(in_ratio < rmin, torch.round(w / rmin), h)
        fb_top = torch.div(h - fb_h, 2, rounding_mode='floor')
        fb_left = torch.div(w - fb_w, 2, rounding_mode='floor')
        pick = lambda a_, b_: torch.where(found, a_, b_).long()  # noqa: E731
        return dict(
            top=pick(top, fb_top),
            left=pick(left, fb_left),
            height=pick(th, fb_h),
            width=pick(tw, fb_w))

    def apply(self, x: Tensor, params: Params) -> Tensor:
        out_h, out_w = self.scale
        if not self.exact:
            return self._roi_align(x, params)
        if self.backend != 'pillow' or self.interpolation == 'nearest':
            return self._resize(x, params, vertical_first=False)
        # The pass order matters through Pillow's uint8 intermediate. Pillow
        # 13 (measured; older versions always go horizontal first) runs the
        # vertical pass first when the crop shrinks vertically by more than
        # twice its horizontal excess.
        dh = params['height'] - out_h
        vfirst = (dh > 0) & (2 * (params['width'] - out_w) < dh)
        if not bool(vfirst.any()):
            return self._resize(x, params, vertical_first=False)
        if bool(vfirst.all()):
            return self._resize(x, params, vertical_first=True)
        out = x.new_empty(x.shape[:2] + (out_h, out_w))
        for group in (vfirst, ~vfirst):
            idx = group.nonzero().squeeze(1)
            sub = {k: v[idx] for k, v in params.items()}
            idx = idx.to(x.device)
            out = out.index_copy(
                0, idx,
                self._resize(x.index_select(0, idx), sub, group is vfirst))
        return out

    def _roi_align(self, x: Tensor, params: Params) -> Tensor:
        """Approximate crop-and-resize: ``torchvision.ops.roi_align`` samples
        each output pixel's cell bilinearly on a grid of ceil(crop / output)
        points per side and averages them (a box pre-filter when the crop
        shrinks), one kernel call for the whole batch. Differs from cv2 /
        Pillow bicubic by interpolation, not by geometry."""
        from torchvision.ops import roi_align
        box = [params[k].to(x.device, torch.float32, non_blocking=True)
               for k in ('left', 'top', 'width', 'height')]
        idx = torch.arange(x.shape[0], device=x.device, dtype=torch.float32)
        rois = torch.stack(
            [idx, box[0], box[1], box[0] + box[2], box[1] + box[3]], 1)
        # aligned=True: pixel i covers [i, i + 1), so the crop's pixels
        # left .. left + width - 1 are the box [left, left + width)
        out = roi_align(x, rois, self.scale, 1., -1, True)
        return out.clamp_(0, 255)

    def _resize(self, x: Tensor, params: Params,
                vertical_first: bool) -> Tensor:
        dev = x.device
        out_h, out_w = self.scale
        box = {k: params[k].to(dev, non_blocking=True)
               for k in ('top', 'left', 'height', 'width')}
        wx = resample_weights(box['left'], box['width'], out_w, x.shape[-1],
                              self.interpolation, self.backend)
        wy = resample_weights(box['top'], box['height'], out_h, x.shape[-2],
                              self.interpolation, self.backend)
        if dev.type == 'cuda' and _tf32_matmul_possible():
            # TF32 would blur the pixel values by ~0.1 level: float64 instead,
            # without touching the global flags
            wx, wy, x = wx.double(), wy.double(), x.double()
        # Pillow keeps the intermediate as uint8; cv2 does not round it
        mid = (self._round if self.backend == 'pillow'
               and self.interpolation != 'nearest' else lambda v: v)
        n, c, h, w = x.shape
        if vertical_first:
            t = torch.bmm(wy, x.transpose(1, 2).reshape(n, h, c * w))
            t = mid(t).view(n, out_h, c, w).transpose(1, 2)
            out = torch.bmm(t.reshape(n, c * out_h, w), wx.transpose(1, 2))
            return self._round(out).view(n, c, out_h, out_w).float()
        t = torch.bmm(x.reshape(n, c * h, w), wx.transpose(1, 2))
        t = mid(t).view(n, c, h, out_w).transpose(1, 2)
        out = torch.bmm(wy, t.reshape(n, h, c * out_w))
        out = self._round(out).view(n, out_h, c, out_w).transpose(1, 2)
        return out.float()


# --------------------------------------------------------------------------- #
# RandomFlip                                                                   #
# --------------------------------------------------------------------------- #
class RandomFlip(_Transform):
    """Batched ``mmcv.RandomFlip`` (same ``prob`` / ``direction`` semantics:
    a str direction flips with ``prob``; a list of directions shares a float
    ``prob`` or takes one probability each). Kornia's ``hflip`` / ``vflip``."""

    type_name = 'RandomFlip'
    valid_args = ('prob', 'direction', 'swap_seg_labels')
    _DIRECTIONS = ('horizontal', 'vertical', 'diagonal')

    def __init__(self,
                 prob: Union[float, Sequence[float]] = None,
                 direction: Union[str, Sequence[str]] = 'horizontal',
                 swap_seg_labels=None) -> None:
        super().__init__()
        if swap_seg_labels is not None:
            raise ValueError('BatchViewAugmentor: RandomFlip.swap_seg_labels is '
                             'not supported (images only).')
        dirs = [direction] if isinstance(direction, str) else list(direction)
        bad = [d for d in dirs if d not in self._DIRECTIONS]
        if not dirs or bad:
            raise ValueError(f'BatchViewAugmentor: RandomFlip.direction '
                             f'{direction!r} invalid; valid: '
                             f'{list(self._DIRECTIONS)}.')
        if isinstance(prob, (list, tuple)):
            probs = [_prob('RandomFlip', 'prob', p) for p in prob]
            if len(probs) != len(dirs) or sum(probs) > 1:
                raise ValueError('BatchViewAugmentor: RandomFlip needs one prob '
                                 'per direction, summing to <= 1.')
        else:
            p = _prob('RandomFlip', 'prob', prob)
            probs = [p / len(dirs)] * len(dirs)
        self.prob, self.direction = prob, direction
        self._dirs, self._probs = dirs, probs

    def sample(self, n, gen, sizes=None) -> Params:
        """``direction``: (n, ) index into the directions, -1 = no flip."""
        u = torch.rand(n, generator=gen, dtype=torch.float64)
        edges = torch.tensor(np.cumsum(self._probs), dtype=torch.float64)
        idx = torch.bucketize(u, edges, right=True)
        return dict(direction=torch.where(idx < len(self._dirs), idx, -1))

    def apply(self, x, params):
        for k, d in enumerate(self._dirs):
            def flip(y, d=d):
                if d in ('horizontal', 'diagonal'):
                    y = _kornia().geometry.transform.hflip(y)
                if d in ('vertical', 'diagonal'):
                    y = _kornia().geometry.transform.vflip(y)
                return y

            x = _subset_apply(x, params['direction'] == k, flip)
        return x


# --------------------------------------------------------------------------- #
# ColorJitter (Pillow backend)                                                 #
# --------------------------------------------------------------------------- #
# Pillow's 'L' conversion, fixed point: (R*19595 + G*38470 + B*7471 + 0x8000)>>16;
# the weights in the BGR channel order of the images. Products and sums stay
# below 2**24, so float32 is exact.
_PIL_L_WEIGHTS_BGR = torch.tensor([7471., 38470., 19595.])


def _pil_luma(y: Tensor) -> Tensor:
    s = _kornia().color.rgb_to_grayscale(y, rgb_weights=_PIL_L_WEIGHTS_BGR)
    return torch.floor((s + 32768.) / 65536.)


def _pil_hue(y: Tensor, shift: Tensor) -> Tensor:
    """``mmcv.adjust_hue`` (Pillow backend): RGB -> 8-bit HSV (Pillow's
    ``rgb2hsv``), H += shift with uint8 wrap-around, HSV -> RGB (Pillow's
    ``hsv2rgb``). float32 except the hue fraction, which the C code computes in
    double (float32 would truncate e.g. 4/6 * 255 to 169 instead of 170).

    Args:
        y (Tensor): (m, 3, H, W) BGR, integer-valued.
        shift (Tensor): (m, ) hue shifts in [0, 255], on ``y``'s device.
    """
    b, g, r = y.unbind(1)
    maxc = torch.maximum(torch.maximum(r, g), b)
    cr = maxc - torch.minimum(torch.minimum(r, g), b)
    grey = cr == 0
    safe_cr = cr.masked_fill(grey, 1.)
    s = cr / maxc.masked_fill(maxc == 0, 1.)
    rc, gc, bc = ((maxc - c) / safe_cr for c in (r, g, b))
    rc, gc, bc = rc.double(), gc.double(), bc.double()
    h = torch.where(r == maxc, bc - gc,
                    torch.where(g == maxc, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.fmod(h.float().double() / 6.0 + 1.0, 1.0).float()
    uh = torch.trunc(h.double() * 255.0).float().masked_fill_(grey, 0.)
    us = torch.trunc(s * 255.0).masked_fill_(grey, 0.)
    uh = torch.remainder(uh + shift.view(-1, 1, 1), 256.)
    # hsv2rgb: sector i, fraction f; channel c is v, p, q or t by (n_c + i) % 6
    hh = uh.double() * 6.0 / 255.0
    i = torch.floor(hh)
    f = (hh - i).float()
    i = i.float()
    fs = us / 255.0
    v = maxc
    # channel = round(v * (1 - fs * F)), F = 0 (v), 1 (p), f (q) or 1 - f (t)
    g = 1.0 - f
    one = torch.ones_like(f)
    out = torch.empty_like(y)
    for ch, n in ((0, 1), (1, 3), (2, 5)):  # B, G, R
        k = torch.remainder(i + n, 6.)
        F_ = torch.where(k == 0, f, torch.where(k == 3, g, one))
        F_ = F_.masked_fill_(k >= 4, 0.)
        out[:, ch] = torch.floor(v * (1.0 - fs * F_) + 0.5)
    return out


class ColorJitter(_Transform):
    """Batched ``mmpretrain.ColorJitter`` with its default Pillow backend.

    Brightness, contrast, saturation and hue factors are drawn as mmpretrain
    draws them and applied in a random order drawn *per sample* (mmpretrain's
    ``np.random.permutation(4)`` per image). ``kornia.augmentation.ColorJitter``
    draws one order per batch (``torch.randperm(4)`` in its parameter
    generator) and computes in continuous [0, 1] float / HSV, so the ops are
    written here: Pillow's ``ImageEnhance`` blends (degenerate image: black, the
    rounded mean of the 'L' image, the 'L' image; truncation to uint8) and
    Pillow's 8-bit HSV hue rotation (``mmcv.adjust_hue``). At each of the 4
    positions the three blends are one batched blend with per-sample factors
    (factor 1 is exactly the identity); the hue rotation, which is not the
    identity at shift 0 (8-bit HSV round trip), runs on its samples only.
    ``prob`` is an extension (default 1): apply the jitter with this
    probability, like wrapping it in ``RandomApply``.

    ``hue_space='yiq'`` is a second extension: the hue factor rotates the chroma
    plane of YIQ by ``factor * 360`` degrees (NVIDIA DALI's ``Hue``), which keeps
    every pixel's luma. The default 'hsv' (mmpretrain, torchvision, kornia) keeps
    HSV's value and saturation instead, so a large hue jitter changes luma, and
    with random grayscale after it, objects whose luma then matches the
    background's vanish (docs/design.md, "Quickstart recipe").
    """

    type_name = 'ColorJitter'
    valid_args = ('brightness', 'contrast', 'saturation', 'hue', 'backend',
                  'prob', 'hue_space')
    _NAMES = ('brightness', 'contrast', 'saturation', 'hue')

    def __init__(self,
                 brightness=0.,
                 contrast=0.,
                 saturation=0.,
                 hue=0.,
                 backend: str = 'pillow',
                 prob: float = 1.0,
                 hue_space: str = 'hsv') -> None:
        super().__init__()
        if hue_space not in ('hsv', 'yiq'):
            raise ValueError("BatchViewAugmentor: ColorJitter.hue_space must be "
                             f"'hsv' or 'yiq', got {hue_space!r}.")
        self.hue_space = hue_space
        if backend != 'pillow':
            raise ValueError('BatchViewAugmentor: ColorJitter supports only '
                             f"backend='pillow' (mmpretrain's default), got "
                             f'{backend!r}.')
        self.brightness = self._set_range(brightness, 'brightness')
        self.contrast = self._set_range(contrast, 'contrast')
        self.saturation = self._set_range(saturation, 'saturation')
        self.hue = self._set_range(hue, 'hue', center=0, bound=(-0.5, 0.5))
        self.backend = backend
        self.prob = _prob('ColorJitter', 'prob', prob)

    @staticmethod
    def _set_range(value, name, center=1., bound=(0., float('inf'))):
        """mmpretrain's ``ColorJitter._set_range``: x -> (c - x, c + x), clipped
        to the bound; None when it leaves the image unchanged."""
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if value < 0:
                raise ValueError(f'BatchViewAugmentor: ColorJitter.{name} as a '
                                 f'single number must be >= 0, got {value}.')
            value = (center - float(value), center + float(value))
        if not (isinstance(value, (tuple, list)) and len(value) == 2):
            raise ValueError(f'BatchViewAugmentor: ColorJitter.{name} must be a '
                             f'number or (min, max), got {value!r}.')
        lo, hi = float(value[0]), float(value[1])
        if not bound[0] <= lo <= hi <= bound[1]:
            clipped = tuple(float(v) for v in np.clip((lo, hi), *bound))
            print_log(f'ColorJitter {name} values {(lo, hi)} exceed the bound '
                      f'{bound}, clipped to {clipped}.', logger='current',
                      level=30)
            lo, hi = clipped
        if lo == hi == center:
            return None
        return (lo, hi)

    def sample(self, n, gen, sizes=None) -> Params:
        """``apply`` (n, ) bool, ``order`` (n, 4) permutations of 0..3 (b, c, s,
        h) and one (n, ) factor tensor per op (None when the op is off)."""
        dt = torch.float64
        apply = torch.rand(n, generator=gen, dtype=dt) < self.prob
        order = torch.argsort(torch.rand(n, 4, generator=gen), dim=1)
        out = dict(apply=apply, order=order)
        for name in self._NAMES:
            rng = getattr(self, name)
            u = torch.rand(n, generator=gen, dtype=dt)
            out[name] = None if rng is None else rng[0] + (rng[1] - rng[0]) * u
        return out

    def _blend(self, x: Tensor, factor: Tensor, kind: Tensor) -> Tensor:
        """One batched ``ImagingBlend(degenerate, x, factor)``: degenerate = 0
        (kind 0, brightness), the rounded mean of 'L' (1, contrast), 'L' (2,
        saturation); factor 1 leaves a sample unchanged."""
        # Pillow takes the factor as a C float
        f = _col(factor.to(torch.float32), x)
        if bool(((kind == 1) | (kind == 2)).any()):
            luma = _pil_luma(x)
            mean = luma.sum((1, 2, 3), dtype=torch.float64) / luma[0].numel()
            mean = torch.floor(mean + 0.5).float().view(-1, 1, 1, 1)
            deg = luma * _col(kind == 2, x) + mean * _col(kind == 1, x)
            out = (x - deg).mul_(f).add_(deg)
        else:
            out = x * f
        out = out.clamp_(0, 255)
        return out.floor_() if self.uint8_rounding else out

    def apply(self, x, params):
        if not self.exact and (params['hue'] is None
                               or self.hue_space == 'yiq'):
            return self._apply_affine(x, params)
        n = x.shape[0]
        apply, order = params['apply'], params['order']
        hue = params['hue']
        for pos in range(4):
            op = torch.where(apply, order[:, pos], -1)
            factor = torch.ones(n, dtype=torch.float64)
            kind = torch.full((n, ), -1)
            for k in range(3):
                fk = params[self._NAMES[k]]
                if fk is not None:
                    sel = op == k
                    factor[sel] = fk[sel]
                    kind[sel] = k
            if bool((kind >= 0).any()):
                x = self._blend(x, factor, kind)
            if hue is not None:
                x = _subset_apply(x, op == 3, self._hue, hue)
        return x

    def _apply_affine(self, x: Tensor, params: Params) -> Tensor:
        """``exact=False`` with a linear hue (YIQ) or none: every op is affine
        in the pixel (brightness and saturation are 3x3 matrices, contrast adds
        the current mean luma, the YIQ hue is a rotation), so each sample's
        ops compose, in its own random order, into one matrix and offset
        applied in one pass (NVIDIA DALI's fused ``ColorTwist``). Without the
        clipping to [0, 255] between ops; the result is clipped once. (Without
        that clipping the four maps commute, all keeping grey grey and the
        luma-weighted mean, so the drawn order no longer matters.)"""
        n, dev = x.shape[0], x.device
        op = torch.where(params['apply'].unsqueeze(1), params['order'], -1)
        eye = torch.eye(3, dtype=torch.float64)
        luma = _PIL_L_WEIGHTS_BGR.double() / 65536.
        mat = eye.repeat(n, 1, 1)
        off = torch.zeros(n, 3, dtype=torch.float64)
        # per-channel means of the input: the mean luma after any affine
        # prefix is luma . (mat @ mean + off)
        mean = x.mean((2, 3), dtype=torch.float64).cpu()
        hue = params['hue']
        for pos in range(4):
            for k, name in enumerate(self._NAMES):
                f = params[name]
                sel = op[:, pos] == k
                if f is None or not bool(sel.any()):
                    continue
                f = torch.where(sel, f, 1. if k < 3 else 0.).view(-1, 1, 1)
                if k == 3:
                    step = self._yiq_matrix(f.view(-1)).double()
                    add = torch.zeros(n, 3, dtype=torch.float64)
                else:
                    step = f * eye
                    add = torch.zeros(n, 3, dtype=torch.float64)
                    if k == 1:  # contrast: blend with the mean luma
                        m = (torch.einsum('nij,nj->ni', mat, mean) + off) @ luma
                        add = ((1 - f.view(-1)) * m).view(-1, 1).expand(n, 3)
                    elif k == 2:  # saturation: blend with the luma image
                        step = step + (1 - f) * luma.view(1, 1, 3)
                mat = step @ mat
                off = torch.einsum('nij,nj->ni', step, off) + add
        mat, off = mat.float().to(dev), off.float().to(dev)
        out = torch.einsum('nij,njhw->nihw', mat, x)
        return out.add_(off.view(n, 3, 1, 1)).clamp_(0, 255)

    @staticmethod
    def _yiq_matrix(factor: Tensor) -> Tensor:
        """(m, 3, 3) BGR matrices rotating YIQ's chroma by ``factor * 2 pi``."""
        theta = factor.to(torch.float32) * (2 * math.pi)
        cos, sin = torch.cos(theta), torch.sin(theta)
        # RGB -> YIQ (NTSC), columns reordered for BGR
        fwd = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                            [0.211, -0.523, 0.312]])[:, [2, 1, 0]]
        rot = torch.zeros(len(theta), 3, 3)
        rot[:, 0, 0] = 1
        rot[:, 1, 1], rot[:, 1, 2] = cos, -sin
        rot[:, 2, 1], rot[:, 2, 2] = sin, cos
        return torch.linalg.inv(fwd) @ rot @ fwd

    def _hue(self, y: Tensor, factor: Tensor) -> Tensor:
        if self.hue_space == 'yiq':
            return self._hue_yiq(y, factor)
        if not self.exact:
            # continuous HSV rotation (torchvision's / kornia's semantics);
            # kornia wants RGB in [0, 1] and the shift in radians
            rgb = y.flip(1).div(255.)
            shift = (factor.to(torch.float32) * (2 * math.pi)).to(y.device)
            out = _kornia().enhance.adjust_hue(rgb, shift)
            return out.flip(1).mul_(255.).clamp_(0, 255)
        # mmcv: np.uint8(hue_factor * 255) -> truncation, then uint8 wrap
        shift = torch.remainder(torch.trunc(factor * 255), 256).float()
        return _pil_hue(y, shift.to(y.device, non_blocking=True))

    def _hue_yiq(self, y: Tensor, factor: Tensor) -> Tensor:
        """Rotate I/Q of BGR ``y`` by ``factor * 2 pi``; luma Y is unchanged."""
        mat = self._yiq_matrix(factor).to(y.device)
        out = torch.einsum('mij,mjhw->mihw', mat, y).clamp_(0, 255)
        return out.floor_() if self.uint8_rounding else out


# --------------------------------------------------------------------------- #
# RandomGrayscale                                                              #
# --------------------------------------------------------------------------- #
class RandomGrayscale(_Transform):
    """Batched ``mmcv.RandomGrayscale``: the normalised ``channel_weights``
    applied in the image's (BGR) channel order, truncated to uint8. Written
    out rather than ``kornia.color.rgb_to_grayscale`` (same weighted sum), whose
    ``addcmul`` may fuse into an FMA on the GPU: grey pixels sum to within an
    ulp of an integer, so numpy's float64 rounding order decides the
    truncation. Only ``keep_channels=True``: a batch keeps 3 channels."""

    type_name = 'RandomGrayscale'
    valid_args = ('prob', 'keep_channels', 'channel_weights', 'color_format')

    def __init__(self,
                 prob: float = 0.1,
                 keep_channels: bool = False,
                 channel_weights: Sequence[float] = (1., 1., 1.),
                 color_format: str = 'bgr') -> None:
        super().__init__()
        self.prob = _prob('RandomGrayscale', 'prob', prob)
        if not keep_channels:
            raise ValueError('BatchViewAugmentor: RandomGrayscale needs '
                             'keep_channels=True (a batch of views keeps 3 '
                             'channels; the per-image pipelines set it too).')
        self.keep_channels = True
        if len(channel_weights) != 3 or sum(channel_weights) <= 0:
            raise ValueError('BatchViewAugmentor: RandomGrayscale.'
                             'channel_weights must be 3 weights with a positive '
                             f'sum, got {channel_weights!r}.')
        self.channel_weights = tuple(float(w) for w in channel_weights)
        if color_format not in ('bgr', 'rgb'):
            raise ValueError('BatchViewAugmentor: RandomGrayscale.color_format '
                             f"must be 'bgr' or 'rgb', got {color_format!r}.")
        self.color_format = color_format
        w = np.array(self.channel_weights) / sum(self.channel_weights)
        self._weights = torch.tensor(w, dtype=torch.float64)

    def sample(self, n, gen, sizes=None) -> Params:
        u = torch.rand(n, generator=gen, dtype=torch.float64)
        return dict(apply=u < self.prob)

    def apply(self, x, params):

        w = self._weights.tolist()

        def grey(y):
            c = y.to(torch.float64).unbind(1)
            g = (c[0] * w[0] + c[1] * w[1]) + c[2] * w[2]  # numpy's order
            return self._floor(g).to(y.dtype).unsqueeze(1).expand_as(
                y).contiguous()

        return _subset_apply(x, params['apply'], grey)


# --------------------------------------------------------------------------- #
# GaussianBlur and Solarize (mmpretrain's BaseAugTransform magnitudes)         #
# --------------------------------------------------------------------------- #
class _MagnitudeTransform(_Transform):
    """``prob`` and a fixed value or mmpretrain's magnitude sampling
    (``magnitude_level`` / ``magnitude_range`` / ``magnitude_std`` /
    ``total_level`` of ``BaseAugTransform``)."""

    value_arg = ''

    def __init__(self, value, prob, magnitude_level, magnitude_range,
                 magnitude_std, total_level) -> None:
        super().__init__()
        name = self.type_name
        if (value is None) == (magnitude_range is None):
            raise ValueError(f'BatchViewAugmentor: {name} needs exactly one of '
                             f'{self.value_arg!r} and magnitude_range.')
        if not (magnitude_std == 'inf' or
                (isinstance(magnitude_std, numbers.Real)
                 and not isinstance(magnitude_std, bool))):
            raise ValueError(f"BatchViewAugmentor: {name}.magnitude_std must be "
                             f"a number or 'inf', got {magnitude_std!r}.")
        if magnitude_range is not None and len(magnitude_range) != 2:
            raise ValueError(f'BatchViewAugmentor: {name}.magnitude_range must '
                             f'be (min, max), got {magnitude_range!r}.')
        setattr(self, self.value_arg, value)
        self.prob = _prob(name, 'prob', prob)
        self.magnitude_level = magnitude_level
        self.magnitude_range = (None if magnitude_range is None else tuple(
            float(v) for v in magnitude_range))
        self.magnitude_std = magnitude_std
        self.total_level = total_level

    def sample(self, n, gen, sizes=None) -> Params:
        """``apply`` (n, ) bool (``rand() <= prob``, mmpretrain's
        ``random_disable`` negated) and ``value`` (n, ) float64."""
        dt = torch.float64
        apply = torch.rand(n, generator=gen, dtype=dt) <= self.prob
        fixed = getattr(self, self.value_arg)
        if fixed is not None:
            value = torch.full((n, ), float(fixed), dtype=dt)
        else:
            level, total = float(self.magnitude_level), float(self.total_level)
            if self.magnitude_std == 'inf':
                m = level * torch.rand(n, generator=gen, dtype=dt)
            elif self.magnitude_std > 0:
                m = level + self.magnitude_std * torch.randn(
                    n, generator=gen, dtype=dt)
                m = m.clamp(0, total)
            else:
                m = torch.full((n, ), level, dtype=dt)
            v1, v2 = self.magnitude_range
            value = m / total * (v2 - v1) + v1
        return dict(apply=apply, value=value)


def _box_blur_coefficients(radius: np.ndarray):
    """Pillow's ``ImagingGaussianBlur``: the extended-box radius whose 3 passes
    have variance radius**2, then ``ImagingHorizontalBoxBlur``'s integer radius
    and 8.24 fixed-point weights, with the C code's float arithmetic."""
    f = np.float32
    radius = radius.astype(f)
    sigma2 = radius * radius / f(3)
    L = np.sqrt(12.0 * sigma2.astype(np.float64) + 1.0).astype(f)
    l_ = np.floor((L.astype(np.float64) - 1.0) / 2.0).astype(f)
    a = (f(2) * l_ + f(1)) * (l_ * (l_ + f(1)) - f(3) * sigma2)
    a = a / (f(6) * (sigma2 - (l_ + f(1)) * (l_ + f(1))))
    box = (l_ + a).astype(f)
    r_int = box.astype(np.int64)
    ww = np.floor(f(1 << 24) / (box * f(2) + f(1))).astype(np.int64)
    fw = ((1 << 24) - (r_int * 2 + 1) * ww) // 2
    return r_int, ww, fw


def _box_taps(radius: np.ndarray) -> Tuple[np.ndarray, np.ndarray, int]:
    """Per-sample 0/1 masks (2, n, R + 1) of one box pass over the offsets
    |t| = 0..R: the window |t| <= r and the far pixels |t| = r + 1; and the
    8.24 weights of ``ImagingHorizontalBoxBlur`` split in 12-bit halves (n, 4):
    ww // 4096, ww % 4096, fw // 4096, fw % 4096."""
    r_int, ww, fw = _box_blur_coefficients(radius)
    R = int(r_int.max()) + 1
    t = np.arange(R + 1)[None]
    r = r_int[:, None]
    masks = np.stack([t <= r, t == r + 1]).astype(np.float32)
    halves = np.stack([ww >> 12, ww & 4095, fw >> 12, fw & 4095], 1)
    return masks, halves.astype(np.float32), R


def _box_pass(y: Tensor, masks: Tensor, halves: Tensor, R: int, dim: int,
              rounding: bool) -> Tensor:
    """One ``ImagingLineBoxBlur8`` pass along ``dim`` (-1 or -2): replicated
    edges, ``(window * ww + far * fw + 2**23) >> 24`` for integer pixels.

    The weights are close to simple fractions (e.g. 2/3 and 1/6), so ties are
    frequent and the sum must be exact. float32 is exact for r <= 3 (radius
    < 4.4): window < 2**11 and far < 2**9, and with 12-bit halves of the
    weights both partial sums stay below 2**24; the carry of the low half is
    added before the final shift. Larger radii use float64."""
    size = y.shape[dim]
    pad = (R, R, 0, 0) if dim == -1 else (0, 0, R, R)
    p = F.pad(y, pad, mode='replicate')
    window = p.narrow(dim, R, size).clone()
    far = None
    for k in range(1, R + 1):
        pair = p.narrow(dim, R - k, size) + p.narrow(dim, R + k, size)
        m = masks[1, :, k].view(-1, 1, 1, 1)
        far = pair * m if far is None else far.addcmul_(pair, m)
        window.addcmul_(pair, masks[0, :, k].view(-1, 1, 1, 1))
    w = [halves[:, i].view(-1, 1, 1, 1) for i in range(4)]
    if not rounding or R > 4:  # r > 3 (radius > 4.4): float64 is exact
        ww, fw = (w[0] * 4096. + w[1]).double(), (w[2] * 4096. + w[3]).double()
        bulk = (window.double() * ww).addcmul_(far.double(), fw)
        if not rounding:
            return bulk.div_(2.**24).float()
        return bulk.add_(2.**23).div_(2.**24).floor_().float()
    high = (window * w[0]).addcmul_(far, w[2])  # units of 2**12
    low = window.mul_(w[1]).addcmul_(far, w[3])  # units of 1
    # floor((high * 2**12 + low + 2**23) / 2**24)
    carry = low.div_(4096.).floor_().add_(2048.)
    return high.add_(carry).div_(4096.).floor_()


class GaussianBlur(_MagnitudeTransform):
    """Batched ``mmpretrain.GaussianBlur`` (Pillow ``ImageFilter.GaussianBlur``
    with a per-sample radius = standard deviation).

    Pillow does not convolve with a sampled Gaussian: it runs 3 horizontal and 3
    vertical passes of an extended box filter whose variance equals radius**2,
    in 8.24 fixed point, rounding to uint8 after each pass. That is reproduced
    here exactly (a kernel-size rule like ``kornia.filters.gaussian_blur2d``'s
    would change the blur); it is also cheaper than a Gaussian kernel: sigma=2
    needs 5 taps.
    """

    type_name = 'GaussianBlur'
    value_arg = 'radius'
    valid_args = ('radius', 'prob', 'magnitude_level', 'magnitude_range',
                  'magnitude_std', 'total_level')

    def __init__(self,
                 radius: Optional[float] = None,
                 prob: float = 0.5,
                 magnitude_level: float = 10,
                 magnitude_range: Optional[Tuple[float, float]] = None,
                 magnitude_std: Union[str, float] = 0.,
                 total_level: float = 10) -> None:
        super().__init__(radius, prob, magnitude_level, magnitude_range,
                         magnitude_std, total_level)

    def apply(self, x, params):
        mask = params['apply'] & (params['value'] != 0)  # Pillow: 0 -> copy
        return _subset_apply(x, mask, self._blur, params['value'])

    def _blur(self, y: Tensor, radius: Tensor) -> Tensor:
        if not self.exact:
            return self._gaussian(y, radius)
        masks, halves, R = _box_taps(radius.numpy())
        masks = torch.from_numpy(masks).to(y.device, non_blocking=True)
        halves = torch.from_numpy(halves).to(y.device, non_blocking=True)
        for dim in (-1, -1, -1, -2, -2, -2):  # 3 horizontal, 3 vertical passes
            y = _box_pass(y, masks, halves, R, dim, self.uint8_rounding)
        return y

    @staticmethod
    def _gaussian(y: Tensor, sigma: Tensor) -> Tensor:
        """Approximate blur: a sampled Gaussian (std = radius, taps to 3 std of
        the largest radius of the batch, replicated edges) as two grouped
        convolutions with one kernel per sample."""
        m, c, h, w = y.shape
        sig = sigma.to(torch.float32).clamp(min=1e-3)
        r = max(1, int(math.ceil(3 * float(sig.max()))))
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        k = torch.exp(-t[None]**2 / (2 * sig[:, None]**2))
        k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0).to(y.device)
        z = y.reshape(1, m * c, h, w)
        z = F.conv2d(
            F.pad(z, (r, r, 0, 0), mode='replicate'),
            k.view(m * c, 1, 1, -1),
            groups=m * c)
        z = F.conv2d(
            F.pad(z, (0, 0, r, r), mode='replicate'),
            k.view(m * c, 1, -1, 1),
            groups=m * c)
        return z.view(m, c, h, w)


class Solarize(_MagnitudeTransform):
    """Batched ``mmpretrain.Solarize``: ``x < thr ? x : 255 - x``. Same rule as
    ``kornia.enhance.solarize`` (``x < thr ? x : 1 - x``), which hard-codes the
    [0, 1] range; the images here stay in [0, 255]."""

    type_name = 'Solarize'
    value_arg = 'thr'
    valid_args = ('thr', 'prob', 'magnitude_level', 'magnitude_range',
                  'magnitude_std', 'total_level')

    def __init__(self,
                 thr: Optional[float] = None,
                 prob: float = 0.5,
                 magnitude_level: float = 10,
                 magnitude_range: Optional[Tuple[float, float]] = None,
                 magnitude_std: Union[str, float] = 0.,
                 total_level: float = 10) -> None:
        super().__init__(thr, prob, magnitude_level, magnitude_range,
                         magnitude_std, total_level)

    def apply(self, x, params):

        def solarize(y, thr):
            thr = _col(thr, y)
            return torch.where(y < thr, y, 255 - y)

        return _subset_apply(x, params['apply'], solarize, params['value'])


# --------------------------------------------------------------------------- #
# RandomApply                                                                  #
# --------------------------------------------------------------------------- #
class RandomApply(_Transform):
    """Batched ``mmcv.RandomApply``: its transforms, all or none, per sample
    (``rand() < prob``). The inner transforms keep their own probabilities."""

    type_name = 'RandomApply'
    valid_args = ('transforms', 'prob')

    def __init__(self, transforms: Sequence[dict], prob: float = 0.5) -> None:
        super().__init__()
        self.prob = _prob('RandomApply', 'prob', prob)
        if isinstance(transforms, dict):
            transforms = [transforms]
        self.transforms = [
            build_batched_transform(t, 'RandomApply.transforms')
            for t in transforms
        ]
        if any(t.resizes for t in self.transforms):
            raise ValueError('BatchViewAugmentor: RandomResizedCrop cannot be '
                             'inside RandomApply (a batch needs one output '
                             'size).')

    def sample(self, n, gen, sizes=None) -> Params:
        apply = torch.rand(n, generator=gen, dtype=torch.float64) < self.prob
        inner = [t.sample(n, gen, sizes) for t in self.transforms]
        return dict(apply=apply, transforms=inner)

    def apply(self, x, params):
        apply = params['apply']
        for t, p in zip(self.transforms, params['transforms']):
            p = dict(p)
            if 'apply' in p:
                p['apply'] = p['apply'] & apply
            if 'direction' in p:  # RandomFlip
                p['direction'] = torch.where(apply, p['direction'], -1)
            x = t.apply(x, p)
        return x

    def __repr__(self):
        return f'RandomApply(transforms={self.transforms}, prob={self.prob})'


#: The transform types BatchViewAugmentor accepts, by mmpretrain / mmcv name.
BATCHED_TRANSFORMS = {
    cls.type_name: cls
    for cls in (RandomResizedCrop, RandomFlip, ColorJitter, RandomGrayscale,
                GaussianBlur, Solarize, RandomApply)
}


def build_batched_transform(cfg: Union[dict, _Transform],
                            where: str = 'views') -> _Transform:
    """A batched transform from an mmpretrain-style transform dict.

    Raises:
        ValueError: Unknown type or argument (the message lists the valid ones).
    """
    if isinstance(cfg, _Transform):
        return cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'BatchViewAugmentor: each transform of {where} must '
                         f"be a dict with a 'type', got {cfg!r}.")
    cfg = copy.deepcopy(dict(cfg))
    type_name = cfg.pop('type')
    if isinstance(type_name, str):
        type_name = type_name.split('.')[-1]  # 'mmpretrain.ColorJitter'
    cls = BATCHED_TRANSFORMS.get(type_name)
    if cls is None:
        raise ValueError(
            f'BatchViewAugmentor: unknown transform type {type_name!r} in '
            f'{where}; valid types: {sorted(BATCHED_TRANSFORMS)}.')
    _check_args(type_name, cfg, cls.valid_args)
    return cls(**cfg)


# --------------------------------------------------------------------------- #
# the data preprocessor                                                        #
# --------------------------------------------------------------------------- #
def _tf32_matmul_possible() -> bool:
    """Whether CUDA float32 matmuls may run in TF32 (10-bit mantissa). Only
    reads the flags (the new ``fp32_precision`` first: reading the legacy
    ``allow_tf32`` raises once the new API was used); unknown -> True."""
    matmul = torch.backends.cuda.matmul
    try:
        precision = getattr(matmul, 'fp32_precision', 'none')
        if precision == 'none':  # inherits the global setting
            precision = getattr(torch.backends, 'fp32_precision', 'none')
        if precision != 'none':
            return precision != 'ieee'
        return bool(matmul.allow_tf32) or (
            torch.get_float32_matmul_precision() != 'highest')
    except RuntimeError:
        return True


@MODELS.register_module()
class BatchViewAugmentor(SelfSupDataPreprocessor):
    """Self-supervised data preprocessor that makes the augmented views itself,
    batched on the model's device.

    Input (``data['inputs']`` after mmengine's ``default_collate`` of a pipeline
    ending in ``PackInputs``), uint8 BGR images (``LoadImageFromFile``):

    - one source per sample: a tensor (N, 3, H, W), a list holding one, or a list
      of N per-sample (3, H, W) tensors (sizes may differ when every view starts
      with ``RandomResizedCrop``); every view is made from it;
    - V sources per sample (workers ran ``MultiView``, e.g. crop + flip per
      view): a list of V tensors (N, 3, h, w) (or N lists of V per-sample
      tensors); view spec v is applied to source v.

    The uint8 images move to the device first (4x less to transfer), then become
    float32 in [0, 255]; the transforms run there; then channel conversion and
    normalisation as in :class:`SelfSupDataPreprocessor`.

    Randomness: every parameter is drawn on the host from this module's own
    :class:`torch.Generator`, seeded at first use with ``torch.initial_seed()``
    (mmengine's Runner sets it from ``randomness.seed``) plus the distributed rank
    plus a fixed offset (so the stream differs from the FA methods'). The
    parameters are small (a few numbers per sample) and the host needs them
    anyway for the per-sample control flow (which samples take which op, in
    which order, with which blur taps), so drawing them on the device would cost
    device-to-host syncs; one host generator therefore serves every device, and
    a seed gives the same views on CPU and GPU. Runs with one seed are identical,
    ranks draw differently, the global RNG (the loader's, dropout's) is not
    consumed. The generator state is not checkpointed: a resumed run restarts
    the stream from the seed.

    ``training`` is ignored: the views are made in evaluation too (the
    self-supervised losses need them; feature extraction for kNN / linear
    evaluation uses another preprocessor).

    Args:
        views (list[list[dict]], optional): One transform list per view, with
            mmpretrain / mmcv type and argument names: ``RandomResizedCrop``,
            ``RandomFlip``, ``RandomApply``, ``ColorJitter`` (+ an optional
            ``prob``), ``RandomGrayscale``, ``GaussianBlur``, ``Solarize``.
            None: the views come made, by :func:`mmfa.datasets.
            batch_view_collate` in the loader workers (the CPU path,
            docs/design.md §16) or by a per-image ``MultiView`` pipeline; the
            module then only converts, normalises (as
            ``SelfSupDataPreprocessor``) and applies ``channels_last``.
        uint8_rounding (bool): Round / truncate after every transform as the
            per-image transform stores uint8 (outputs match mmpretrain's). False
            keeps full float precision. Defaults to True.
        exact (bool): True reproduces mmpretrain's per-image arithmetic
            (Pillow / cv2 resampling, Pillow's box-filter blur and 8-bit HSV
            hue, uint8 rounding). False keeps the parameter draws (same
            distributions, same random stream) but uses cheaper float kernels:
            crops resized by ``torchvision.ops.roi_align``, a sampled Gaussian
            blur, kornia's continuous HSV hue, no rounding (implies
            ``uint8_rounding=False``), and a YIQ-hue colour jitter fused into
            one affine map without clipping between its ops (docs/design.md
            §9). 1.2x the exact augmentor at 224 px on a CPU, no gain at 32 px
            (docs/benchmarks.md). Defaults to True.
        cpu_chunk_values (int): On CPU, augment chunks of about this many
            values (samples x 3 x H x W) at a time; the parameters are drawn
            for the whole batch first, so the views do not depend on it.
            Defaults to 2**20 (fastest at 224 px; a batch of 64 small
            images, e.g. 64 px, stays one chunk).
        channels_last (bool): Return the views in channels-last memory
            format, which the convolutions then keep (oneDNN on a CPU, cuDNN
            on a GPU run their NHWC kernels; docs/benchmarks.md measures it).
            ``tools/train.py --channels-last`` sets it. Defaults to False.
        mean, std, to_rgb, bgr_to_rgb, rgb_to_bgr, non_blocking: As
            :class:`SelfSupDataPreprocessor`.
    """

    def __init__(self,
                 views: Optional[Sequence[Sequence[dict]]],
                 uint8_rounding: bool = True,
                 exact: bool = True,
                 cpu_chunk_values: int = 2**20,
                 channels_last: bool = False,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 to_rgb: bool = False,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 non_blocking: Optional[bool] = False,
                 **kwargs) -> None:
        super().__init__(
            mean=mean,
            std=std,
            to_rgb=to_rgb,
            bgr_to_rgb=bgr_to_rgb,
            rgb_to_bgr=rgb_to_bgr,
            non_blocking=non_blocking,
            **kwargs)
        if views is not None and (
                not isinstance(views, (list, tuple)) or not views
                or any(not isinstance(v, (list, tuple)) for v in views)):
            raise ValueError('BatchViewAugmentor: views must be a non-empty list '
                             'of transform lists (one per view), or None when '
                             'the views come made (batch_view_collate), got '
                             f'{views!r}.')
        self.made_views = views is None
        self.channels_last = bool(channels_last)
        self.views: List[List[_Transform]] = []
        for v, spec in enumerate(views or []):
            ops = [build_batched_transform(t, f'views[{v}]') for t in spec]
            for op in _iter_transforms(ops):
                op.uint8_rounding = bool(uint8_rounding) and bool(exact)
                op.exact = bool(exact)
            self.views.append(ops)
        self.uint8_rounding = bool(uint8_rounding) and bool(exact)
        self.exact = bool(exact)
        if cpu_chunk_values < 1:
            raise ValueError('BatchViewAugmentor: cpu_chunk_values must be >= 1.')
        self.cpu_chunk_values = int(cpu_chunk_values)
        self._generator: Optional[torch.Generator] = None

    @property
    def num_views(self) -> int:
        return len(self.views)

    def generator(self) -> torch.Generator:
        """The host generator of the view parameters, seeded at first use with
        ``torch.initial_seed() + rank`` (plus a fixed offset)."""
        if self._generator is None:
            rank, _ = get_rank_world()
            seed = (torch.initial_seed() + rank + _SEED_OFFSET) % 2**64
            self._generator = torch.Generator().manual_seed(seed)
        return self._generator

    # ---- inputs ---------------------------------------------------------------
    def _sources(self, inputs) -> List[Tuple[Tensor, Optional[Tensor]]]:
        """(batch (N, 3, H, W), sizes (N, 2) of ragged samples or None) per
        source."""

        def per_sample(imgs) -> Tuple[Tensor, Optional[Tensor]]:
            if any(not isinstance(t, Tensor) or t.dim() != 3 for t in imgs):
                raise ValueError('BatchViewAugmentor: expected per-sample '
                                 '(3, H, W) image tensors.')
            shapes = {tuple(t.shape) for t in imgs}
            if len(shapes) == 1:
                return torch.stack(list(imgs)), None
            h = max(t.shape[1] for t in imgs)
            w = max(t.shape[2] for t in imgs)
            batch = imgs[0].new_zeros((len(imgs), imgs[0].shape[0], h, w))
            for i, t in enumerate(imgs):
                batch[i, :, :t.shape[1], :t.shape[2]] = t
            sizes = torch.tensor([t.shape[1:] for t in imgs])
            return batch, sizes

        if isinstance(inputs, Tensor):
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise ValueError('BatchViewAugmentor: data["inputs"] must be a '
                             'tensor or a non-empty list, got '
                             f'{type(inputs).__name__}.')
        if all(isinstance(t, Tensor) and t.dim() == 4 for t in inputs):
            sources = [(t, None) for t in inputs]
        elif all(isinstance(t, Tensor) and t.dim() == 3 for t in inputs):
            sources = [per_sample(inputs)]
        elif all(isinstance(t, (list, tuple)) for t in inputs):
            num = {len(t) for t in inputs}
            if len(num) != 1:
                raise ValueError('BatchViewAugmentor: samples have different '
                                 'numbers of views.')
            sources = [per_sample([s[v] for s in inputs])
                       for v in range(num.pop())]
        else:
            raise ValueError(
                'BatchViewAugmentor: data["inputs"] must be (N, 3, H, W) '
                'tensor(s), one per source view, or per-sample (3, H, W) '
                'tensors.')
        for batch, _ in sources:
            if batch.shape[1] != 3:
                raise ValueError('BatchViewAugmentor: expected 3-channel images, '
                                 f'got shape {tuple(batch.shape)}.')
        if len(sources) not in (1, self.num_views):
            raise ValueError(
                f'BatchViewAugmentor: the input has {len(sources)} views per '
                f'sample but {self.num_views} view specs are configured; give '
                'one source image (every view is made from it) or one source '
                'per view spec.')
        return sources

    # ---- forward ----------------------------------------------------------
    def sample_view(self, v: int, n: int, sizes: Tensor,
                    generator: Optional[torch.Generator] = None
                    ) -> List[Params]:
        """Draw the parameters of view ``v``'s transforms for ``n`` samples of
        sizes (n, 2) from ``generator`` (default: this module's)."""
        gen = self.generator() if generator is None else generator
        params = []
        for op in self.views[v]:
            params.append(op.sample(n, gen, sizes))
            if op.resizes:
                sizes = torch.tensor([op.scale]).expand(n, 2)
        return params

    def apply_view(self, v: int, x: Tensor, params: List[Params]) -> Tensor:
        """Apply view ``v``'s transforms with the given parameters to a float
        batch in [0, 255]."""
        for op, p in zip(self.views[v], params):
            x = op.apply(x, p)
        return x

    def _chunk_size(self, n: int, device: torch.device, *shapes) -> int:
        # On CPU each fresh multi-MB temporary costs its page faults (glibc
        # mmaps large blocks), which dominates elementwise work on big
        # images: work on chunks of ~2**20 values (4 MiB), whose buffers the heap
        # reuses. GPUs' caching allocators have no such cost.
        if device.type != 'cpu':
            return n
        per_sample = max(3 * h * w for h, w in shapes)
        return max(1, min(n, self.cpu_chunk_values // per_sample))

    def make_views(self, inputs, post=None,
                   generator: Optional[torch.Generator] = None
                   ) -> List[Tensor]:
        """The augmented views, float32 BGR in [0, 255] (then ``post``, a
        function applied to each chunk of each view, if given), with the
        parameters drawn from ``generator`` (default: this module's)."""
        if self.made_views:
            raise ValueError('BatchViewAugmentor(views=None) makes no views; '
                             'give views=[[...], [...]] to make them.')
        sources = self._sources(inputs)
        device = sources[0][0].device
        views = []
        # the optimizer wrapper's AMP context encloses the data preprocessor
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            for v, ops in enumerate(self.views):
                batch, sizes = sources[0 if len(sources) == 1 else v]
                n = batch.shape[0]
                if sizes is not None and (not ops or not ops[0].resizes):
                    raise ValueError(
                        'BatchViewAugmentor: the images of a batch differ in '
                        'size; every view must start with RandomResizedCrop '
                        '(or resize in the workers).')
                if sizes is None:
                    sizes = torch.tensor([batch.shape[-2:]]).expand(n, 2)
                params = self.sample_view(v, n, sizes, generator)
                out_shape = tuple(batch.shape[-2:])
                for op in ops:
                    if op.resizes:
                        out_shape = op.scale
                step = self._chunk_size(n, device, batch.shape[-2:], out_shape)
                if step == n:
                    x = self.apply_view(v, batch.float(), params)
                    views.append(post(x) if post else x)
                    continue
                out = torch.empty((n, 3) + tuple(out_shape), device=device)
                for i in range(0, n, step):
                    sl = slice(i, min(i + step, n))
                    x = self.apply_view(v, batch[sl].float(),
                                        _slice_params(params, sl))
                    out[sl] = post(x) if post else x
                views.append(out)
        return views

    def forward(self, data: dict, training: bool = False) -> dict:
        """Cast to the device, augment (``views=None``: the views come made),
        convert channels, normalise and, if set, make them channels-last.

        Returns:
            dict: ``inputs`` (list of V float tensors (N, 3, h, w)) and
            ``data_samples``.
        """
        if not isinstance(data, dict):
            raise TypeError('BatchViewAugmentor expects the dict of mmengine\'s '
                            f'collate functions, got {type(data).__name__}.')
        if self.made_views:
            # mmpretrain's own conversion and normalisation of made views
            data = dict(inputs=self._made_views(data.get('inputs')),
                        data_samples=data.get('data_samples'))
            return self._to_channels_last(super().forward(data, training))
        data = self.cast_data(data)

        def post(x: Tensor) -> Tensor:
            if self._channel_conversion:
                x = x[:, [2, 1, 0], ...]
            if self._enable_normalize:
                x = (x - self.mean) / self.std
            return x

        views = self.make_views(data['inputs'], post)
        return self._to_channels_last(
            dict(inputs=views, data_samples=data.get('data_samples')))

    def _to_channels_last(self, data: dict) -> dict:
        if self.channels_last:
            data['inputs'] = [
                v.contiguous(memory_format=torch.channels_last)
                for v in data['inputs']
            ]
        return data

    @staticmethod
    def _made_views(inputs) -> List[Tensor]:
        """``views=None``: the V views of a batch, (N, 3, h, w) each."""
        if isinstance(inputs, Tensor) and inputs.dim() == 4:
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)) or not inputs or any(
                not isinstance(t, Tensor) or t.dim() != 4 or t.shape[1] != 3
                for t in inputs):
            raise ValueError(
                'BatchViewAugmentor(views=None) takes views already made, a '
                'list of (N, 3, h, w) tensors (batch_view_collate or '
                'MultiView + default_collate); to make the views here, give '
                'views=[[...], [...]].')
        return list(inputs)

    def extra_repr(self) -> str:
        return (f'views={self.views if not self.made_views else None}, '
                f'uint8_rounding={self.uint8_rounding}, exact={self.exact}, '
                f'channels_last={self.channels_last}')


def split_multiview_pipeline(
    pipeline: Sequence[dict],
    worker_types: Sequence[str] = ('RandomResizedCrop', 'RandomFlip')
) -> Tuple[List[dict], List[List[dict]]]:
    """Convert a per-image multi-view pipeline to the batched path.

    Args:
        pipeline (list[dict]): ``[LoadImageFromFile, MultiView(num_views,
            transforms), PackInputs]`` (mmpretrain's self-supervised layout).
        worker_types (Sequence[str]): Transform types that stay in the
            data-loader workers, per view (default: crop and flip, i.e. the
            workers crop the decoded image). Empty: the workers only decode
            and pack (fixed-size images), every transform is batched.

    Returns:
        tuple: The worker pipeline and the ``views`` of
        :class:`BatchViewAugmentor` (one transform list per view).
    """
    pipeline = copy.deepcopy(list(pipeline))
    idx = [i for i, t in enumerate(pipeline) if t.get('type') == 'MultiView']
    if len(idx) != 1:
        raise ValueError('split_multiview_pipeline: expected one MultiView '
                         f'transform, got {len(idx)}.')
    mv = pipeline[idx[0]]
    transforms = mv['transforms']
    num = mv['num_views']
    num = [num] * len(transforms) if isinstance(num, int) else list(num)
    if len(num) != len(transforms):
        raise ValueError('split_multiview_pipeline: MultiView.num_views and '
                         'transforms do not match.')
    keep = [[t for t in view if t['type'] in worker_types]
            for view in transforms]
    views = [[t for t in view if t['type'] not in worker_types]
             for view, k in zip(transforms, num) for _ in range(k)]
    if any(keep):
        pipeline[idx[0]] = dict(mv, transforms=keep)
    else:
        del pipeline[idx[0]]
    return pipeline, views


def _slice_params(params, sl: slice):
    """The parameters of the samples ``sl`` (nested lists / dicts of per-sample
    tensors)."""
    if isinstance(params, Tensor):
        return params[sl]
    if isinstance(params, dict):
        return {k: _slice_params(v, sl) for k, v in params.items()}
    if isinstance(params, list):
        return [_slice_params(p, sl) for p in params]
    return params


def _iter_transforms(ops):
    for op in ops:
        yield op
        if isinstance(op, RandomApply):
            yield from _iter_transforms(op.transforms)
