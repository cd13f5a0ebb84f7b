# Copyright (c) mmfa contributors. All rights reserved.
"""A procedural "shapes" dataset for offline runs of mmfa (no download needed).

Each class is an object *shape*; colour, position, scale, rotation and background
(solid, gradient or noise texture, plus pixel noise) are drawn at random and
independently of the class, so colour is no shortcut and the invariances that data
augmentation teaches matter, as in the self-supervised setting studied by Zhang et al.,
"Feature Augmentation for Self-supervised Contrastive Learning: A Closer Look",
arXiv:2410.12396, 2024.

Every image is a pure function of ``(seed, split, index)``: its random generator is
``numpy.random.default_rng([seed, split_id, index])``, so any image can be
regenerated alone, and two runs with one seed write byte-identical files.
"""
import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from .layout import (check_split_name, imwrite_rgb, prepare_output,
                     progress_iter, write_ann_file, write_class_list)

__all__ = [
    'SHAPE_CLASSES', 'VARIANTS', 'render_shape_image', 'render_detection_image',
    'generate_shapes_cls', 'generate_shapes_voc', 'generate_shapes'
]

# Sorted alphabetically on purpose: mmpretrain's CustomDataset without an ann_file
# labels class folders in sorted order, which then agrees with these labels.
SHAPE_CLASSES = ('arrow', 'circle', 'crescent', 'cross', 'heart', 'ring',
                 'square', 'star', 'triangle')

# One random stream per split, so train/val (or trainval/test) images differ.
_SPLIT_IDS = {'train': 0, 'val': 1, 'trainval': 2, 'test': 3}
_SUPERSAMPLE = 4  # anti-aliasing: draw at 4x, then area-average down
_MIN_CONTRAST = 110.0  # min RGB distance between object and mean background
# Two difficulty variants. 'clean' (the quickstart's default): solid backgrounds, no
# pixel noise, large objects, so a small network learns shapes within CPU minutes.
# 'hard': gradient / noise-texture backgrounds, pixel noise, smaller objects. Both
# draw colours, position and rotation at random.
VARIANTS = {
    'clean': dict(
        backgrounds=('solid', ),
        max_noise=0.,
        radius=(0.30, 0.45)),
    'hard': dict(
        backgrounds=('solid', 'gradient', 'texture'),
        max_noise=8.,
        radius=(0.22, 0.45)),
}


def _variant(name: str) -> dict:
    if name not in VARIANTS:
        raise ValueError(f'Unknown shapes variant "{name}"; valid variants are '
                         f'{sorted(VARIANTS)}.')
    return VARIANTS[name]


def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    if int(seed) < 0 or int(index) < 0:
        raise ValueError(
            f'seed and index must be non-negative, got {seed}, {index}')
    return np.random.default_rng([int(seed), _SPLIT_IDS[split], int(index)])


def _regular(n: int, radius: float = 1.0, start_deg: float = 90.0):
    ang = np.deg2rad(start_deg + 360.0 / n * np.arange(n))
    return np.stack([np.cos(ang), np.sin(ang)], 1) * radius


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    ang = np.deg2rad(90.0 + 180.0 / points * np.arange(2 * points))
    rad = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)


def _cross(half_width: float = 0.3) -> np.ndarray:
    w = half_width
    pts = np.array([(-w, -1), (w, -1), (w, -w), (1, -w), (1, w), (w, w),
                    (w, 1), (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w)])
    return pts / np.hypot(1, w)  # farthest corner on the unit circle


def _arrow() -> np.ndarray:
    pts = np.array([(-1, -0.22), (0.2, -0.22), (0.2, -0.62), (1, 0),
                    (0.2, 0.62), (0.2, 0.22), (-1, 0.22)])
    return pts / np.linalg.norm(pts, axis=1).max()


def _heart(n: int = 64) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = 16 * np.sin(t)**3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) -
          np.cos(4 * t))  # image y points down
    pts = np.stack([x, y], 1)
    pts -= (pts.max(0) + pts.min(0)) / 2
    return pts / np.linalg.norm(pts, axis=1).max()


# Outlines in a unit frame (all points within radius 1 of the centre).
_POLYGONS = {
    'arrow': _arrow(),
    'cross': _cross(),
    'heart': _heart(),
    'square': _regular(4, start_deg=45.0),
    'star': _star(),
    'triangle': _regular(3, start_deg=-90.0),
}


def _draw_mask(name: str, size: Tuple[int, int], cx: float, cy: float,
               radius: float, angle: float) -> np.ndarray:
    """Soft (anti-aliased) float mask in [0, 1] of one shape, shape ``(H, W)``."""
    h, w = size
    s = _SUPERSAMPLE
    canvas = np.zeros((h * s, w * s), np.uint8)
    # pixel centres sit at +0.5 in the supersampled grid
    centre = np.array([cx, cy]) * s + (s - 1) / 2.0
    r = radius * s
    if name in _POLYGONS:
        c, sn = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -sn], [sn, c]])
        pts = _POLYGONS[name] @ rot.T * r + centre
        cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 255)
    elif name == 'circle':
        cv2.circle(canvas, tuple(int(v) for v in np.round(centre)),
                   int(round(0.9 * r)), 255, -1)
    elif name == 'ring':
        ctr = tuple(int(v) for v in np.round(centre))
        cv2.circle(canvas, ctr, int(round(0.95 * r)), 255, -1)
        cv2.circle(canvas, ctr, int(round(0.55 * r)), 0, -1)
    elif name == 'crescent':
        cv2.circle(canvas, tuple(int(v) for v in np.round(centre)),
                   int(round(0.95 * r)), 255, -1)
        off = centre + 0.45 * r * np.array([np.cos(angle), np.sin(angle)])
        cv2.circle(canvas, tuple(int(v) for v in np.round(off)),
                   int(round(0.8 * r)), 0, -1)
    else:
        raise ValueError(f'Unknown shape "{name}"; valid shapes are '
                         f'{SHAPE_CLASSES}.')
    mask = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    return mask.astype(np.float32) / 255.0


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, 3).astype(np.float32)


def _background(rng: np.random.Generator,
                h: int,
                w: int,
                kinds: Tuple[str, ...] = ('solid', 'gradient', 'texture')
                ) -> np.ndarray:
    """A solid, gradient or noise-textured background, float32 RGB (H, W, 3)."""
    base = _random_colour(rng)
    kind = rng.integers(3) if len(kinds) == 3 else 0
    if kind == 0:  # solid
        bg = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    elif kind == 1:  # linear gradient towards a nearby colour
        other = np.clip(base + rng.uniform(-90, 90, 3), 0, 255)
        theta = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = xx * np.cos(theta) + yy * np.sin(theta)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        bg = base * (1 - t[..., None]) + other * t[..., None]
    else:  # smooth colour noise texture
        grid = int(rng.integers(3, 9))
        noise = rng.uniform(-1, 1, (grid, grid, 3)).astype(np.float32)
        noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
        bg = base + noise * rng.uniform(20, 60)
    return np.clip(bg, 0, 255).astype(np.float32)


def _object_colour(rng: np.random.Generator, bg: np.ndarray) -> np.ndarray:
    """A random colour far from the mean of ``bg`` (the background pixels the shape
    will cover), so that the shape stays visible on any background."""
    mean = bg.reshape(-1, 3).mean(0)
    best, best_dist = None, -1.0
    for _ in range(32):
        colour = _random_colour(rng)
        dist = float(np.linalg.norm(colour - mean))
        if dist >= _MIN_CONTRAST:
            return colour
        if dist > best_dist:
            best, best_dist = colour, dist
    return best


def _finish(rng: np.random.Generator,
            img: np.ndarray,
            max_noise: float = 8.) -> np.ndarray:
    if max_noise > 0:
        sigma = rng.uniform(0, max_noise)
        img = img + rng.normal(0, sigma, img.shape).astype(np.float32)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _composite(img: np.ndarray, mask: np.ndarray, colour: np.ndarray):
    a = mask[..., None]
    return img * (1 - a) + colour * a


def render_shape_image(seed: int,
                       index: int,
                       img_size: int = 64,
                       split: str = 'train',
                       return_mask: bool = False,
                       variant: str = 'hard') -> Tuple:
    """Render one classification image (a single shape).

    The label is ``index % len(SHAPE_CLASSES)``, so consecutive indices cycle through
    the classes and any prefix of the indices is class-balanced.

    Args:
        seed (int): Dataset seed (non-negative).
        index (int): Image index within the split (non-negative).
        img_size (int): Side of the square image in pixels. Defaults to 64.
        split (str): ``'train'``, ``'val'``, ``'trainval'`` or ``'test'``; each split
            has its own random stream. Defaults to ``'train'``.
        return_mask (bool): Also return the shape's soft mask ``(H, W)``.
        variant (str): ``'clean'`` or ``'hard'`` (see :data:`VARIANTS`).
            Defaults to ``'hard'``.

    Returns:
        tuple: The RGB uint8 image ``(img_size, img_size, 3)`` and its label (index
        into :data:`SHAPE_CLASSES`), and the mask when ``return_mask``.
    """
    check_split_name(split, _SPLIT_IDS)
    if img_size < 16:
        raise ValueError(f'img_size must be >= 16 to draw a recognisable '
                         f'shape, got {img_size}.')
    var = _variant(variant)
    rng = _rng(seed, split, index)
    label = index % len(SHAPE_CLASSES)
    bg = _background(rng, img_size, img_size, var['backgrounds'])
    radius = rng.uniform(*var['radius']) * img_size
    cx, cy = rng.uniform(radius, img_size - 1 - radius, 2)
    angle = rng.uniform(0, 2 * np.pi)
    mask = _draw_mask(SHAPE_CLASSES[label], (img_size, img_size), cx, cy,
                      radius, angle)
    colour = _object_colour(rng, bg[mask >= 0.5])
    img = _finish(rng, _composite(bg, mask, colour), var['max_noise'])
    return (img, label, mask) if return_mask else (img, label)


def _mask_box(mask: np.ndarray) -> Optional[np.ndarray]:
    """Tight box ``[x0, y0, x1, y1]`` (inclusive pixel indices) of mask >= 0.5."""
    ys, xs = np.nonzero(mask >= 0.5)
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.int64)


def _box_area(box: np.ndarray) -> float:
    return float((box[2] - box[0] + 1) * (box[3] - box[1] + 1))


def _overlap_ok(box: np.ndarray, others: List[np.ndarray],
                max_overlap: float) -> bool:
    for other in others:
        iw = min(box[2], other[2]) - max(box[0], other[0]) + 1
        ih = min(box[3], other[3]) - max(box[1], other[1]) + 1
        if iw > 0 and ih > 0:
            inter = float(iw * ih)
            if inter > max_overlap * min(_box_area(box), _box_area(other)):
                return False
    return True


def render_detection_image(
        seed: int,
        index: int,
        img_size: int = 128,
        split: str = 'trainval',
        return_masks: bool = False,
        max_overlap: float = 0.1,
        min_box_size: int = 6,
        variant: str = 'hard') -> Tuple[np.ndarray, ...]:
    """Render one detection image with 2 to 4 shapes and their boxes.

    Boxes are the tight boxes of each shape's own (anti-aliased, >= 0.5) mask, in
    0-based inclusive pixel indices ``[x0, y0, x1, y1]``, which is what mmdet's
    VOCDataset returns after subtracting 1 from the 1-based VOC XML values. The
    intersection of two boxes is at most ``max_overlap`` of the smaller box, so no
    object is hidden.

    Args:
        seed (int): Dataset seed (non-negative).
        index (int): Image index within the split (non-negative).
        img_size (int): Side of the square image. Defaults to 128.
        split (str): Random stream, see :func:`render_shape_image`.
            Defaults to ``'trainval'``.
        return_masks (bool): Also return the soft masks ``(n, H, W)``.
        max_overlap (float): Max intersection over the smaller box's area.
        min_box_size (int): Min width/height in pixels of every box.
        variant (str): ``'clean'`` or ``'hard'`` background and noise (see
            :data:`VARIANTS`). Defaults to ``'hard'``.

    Returns:
        tuple: ``(img, boxes, labels)`` (and ``masks`` when ``return_masks``):
        RGB uint8 image, int64 boxes ``(n, 4)``, int64 labels ``(n,)``.
    """
    check_split_name(split, _SPLIT_IDS)
    if img_size < 48:
        raise ValueError('img_size must be >= 48 to fit 2-4 shapes, got '
                         f'{img_size}.')
    var = _variant(variant)
    rng = _rng(seed, split, index)
    img = _background(rng, img_size, img_size, var['backgrounds'])
    num = int(rng.integers(2, 5))
    boxes, labels, masks = [], [], []
    scale = 1.0
    attempts = 0
    while len(boxes) < num:
        attempts += 1
        if attempts % 40 == 0:
            # crowded: shrink further objects rather than loop for long
            scale *= 0.8
        label = int(rng.integers(len(SHAPE_CLASSES)))
        radius = max(rng.uniform(0.1, 0.22) * img_size * scale, 5.0)
        cx, cy = rng.uniform(radius, img_size - 1 - radius, 2)
        angle = rng.uniform(0, 2 * np.pi)
        mask = _draw_mask(SHAPE_CLASSES[label], (img_size, img_size), cx, cy,
                          radius, angle)
        box = _mask_box(mask)
        if box is None or min(box[2] - box[0], box[3] - box[1]) < min_box_size:
            continue
        if not _overlap_ok(box, boxes, max_overlap):
            continue
        boxes.append(box)
        labels.append(label)
        masks.append(mask)
    for mask in masks:
        img = _composite(img, mask, _object_colour(rng, img[mask >= 0.5]))
    out = (_finish(rng, img, var['max_noise']), np.stack(boxes).astype(np.int64),
           np.array(labels, np.int64))
    if return_masks:
        out = out + (np.stack(masks), )
    return out


def generate_shapes_cls(root: str,
                        num_train: int = 1800,
                        num_val: int = 360,
                        img_size: int = 64,
                        seed: int = 0,
                        overwrite: bool = False,
                        progress: bool = True,
                        variant: str = 'hard') -> Dict:
    """Write the shapes classification set in mmpretrain's ImageNet-style layout.

    Layout: ``root/{train,val}/<class>/<class>_<index>.png``, ``root/meta/train.txt``
    and ``root/meta/val.txt`` (``<class>/<file> <label>`` lines, relative to the split
    folder) and ``root/meta/classes.txt``. Load it with
    ``dict(type='CustomDataset', data_root=root, ann_file='meta/train.txt',
    data_prefix='train')``.

    Args:
        root (str): Output folder; created if missing.
        num_train (int): Number of training images (classes cycle, so balanced).
        num_val (int): Number of validation images.
        img_size (int): Image side in pixels.
        seed (int): Dataset seed.
        overwrite (bool): Regenerate even if ``root`` holds this exact set already.
        progress (bool): Show a progress bar.
        variant (str): ``'clean'`` or ``'hard'`` (see :data:`VARIANTS`).

    Returns:
        dict: ``data_root``, ``classes``, ``ann_files`` (split -> path) and
        ``skipped`` (True when an identical set was already there).
    """
    _variant(variant)
    params = dict(
        kind='shapes_cls',
        num_train=num_train,
        num_val=num_val,
        img_size=img_size,
        seed=seed,
        variant=variant)
    result = dict(
        data_root=root,
        classes=SHAPE_CLASSES,
        ann_files={
            s: osp.join(root, 'meta', f'{s}.txt')
            for s in ('train', 'val')
        })
    if prepare_output(root, ['train', 'val', 'meta'], params, overwrite):
        return dict(result, skipped=True)
    for split, num in (('train', num_train), ('val', num_val)):
        for name in SHAPE_CLASSES:
            os.makedirs(osp.join(root, split, name), exist_ok=True)
        lines = []
        for index in progress_iter(
                range(num), f'shapes {split}', enable=progress):
            img, label = render_shape_image(
                seed, index, img_size, split, variant=variant)
            name = SHAPE_CLASSES[label]
            rel = f'{name}/{name}_{index:05d}.png'
            imwrite_rgb(osp.join(root, split, rel), img)
            lines.append((rel, label))
        write_ann_file(result['ann_files'][split], lines)
    write_class_list(osp.join(root, 'meta', 'classes.txt'), SHAPE_CLASSES)
    prepare_output(root, [], params, finished=True)
    return dict(result, skipped=False)


def _voc_xml(img_id: str, img_size: int, boxes: np.ndarray,
             labels: np.ndarray) -> ET.ElementTree:
    ann = ET.Element('annotation')
    ET.SubElement(ann, 'folder').text = 'VOC2007'
    ET.SubElement(ann, 'filename').text = f'{img_id}.jpg'
    source = ET.SubElement(ann, 'source')
    ET.SubElement(source, 'database').text = 'mmfa procedural shapes'
    size = ET.SubElement(ann, 'size')
    ET.SubElement(size, 'width').text = str(img_size)
    ET.SubElement(size, 'height').text = str(img_size)
    ET.SubElement(size, 'depth').text = '3'
    ET.SubElement(ann, 'segmented').text = '0'
    for box, label in zip(boxes, labels):
        obj = ET.SubElement(ann, 'object')
        ET.SubElement(obj, 'name').text = SHAPE_CLASSES[int(label)]
        ET.SubElement(obj, 'pose').text = 'Unspecified'
        ET.SubElement(obj, 'truncated').text = '0'
        ET.SubElement(obj, 'difficult').text = '0'
        bnd = ET.SubElement(obj, 'bndbox')
        # VOC coordinates are 1-based pixel indices (mmdet subtracts 1).
        for key, val in zip(('xmin', 'ymin', 'xmax', 'ymax'), box):
            ET.SubElement(bnd, key).text = str(int(val) + 1)
    tree = ET.ElementTree(ann)
    ET.indent(tree)
    return tree


def generate_shapes_voc(root: str,
                        num_trainval: int = 150,
                        num_test: int = 50,
                        img_size: int = 128,
                        seed: int = 0,
                        overwrite: bool = False,
                        progress: bool = True,
                        variant: str = 'hard') -> Dict:
    """Write the shapes detection set in PASCAL VOC 2007 layout.

    Layout under ``root/VOC2007``: ``JPEGImages/<id>.jpg``, ``Annotations/<id>.xml``
    and ``ImageSets/Main/{trainval,test}.txt``; trainval ids come first. Load it with
    ``dict(type='VOCDataset', data_root=root,
    ann_file='VOC2007/ImageSets/Main/trainval.txt',
    data_prefix=dict(sub_data_root='VOC2007/'), metainfo=dict(classes=SHAPE_CLASSES))``
    (the ``VOC2007`` folder name makes mmdet use the VOC07 11-point mAP).

    Args:
        root (str): Output folder (the ``VOCdevkit`` equivalent).
        num_trainval (int): Number of trainval images.
        num_test (int): Number of test images.
        img_size (int): Image side in pixels.
        seed (int): Dataset seed.
        overwrite (bool): Regenerate even if ``root`` holds this exact set already.
        progress (bool): Show a progress bar.
        variant (str): ``'clean'`` or ``'hard'`` (see :data:`VARIANTS`).

    Returns:
        dict: ``data_root``, ``classes``, ``ann_files`` (split -> path relative to
        ``data_root``), ``sub_data_root`` and ``skipped``.
    """
    _variant(variant)
    params = dict(
        kind='shapes_voc',
        num_trainval=num_trainval,
        num_test=num_test,
        img_size=img_size,
        seed=seed,
        variant=variant)
    voc = osp.join(root, 'VOC2007')
    result = dict(
        data_root=root,
        classes=SHAPE_CLASSES,
        sub_data_root='VOC2007/',
        ann_files={
            s: f'VOC2007/ImageSets/Main/{s}.txt'
            for s in ('trainval', 'test')
        })
    if prepare_output(voc, ['JPEGImages', 'Annotations', 'ImageSets'],
                      params, overwrite):
        return dict(result, skipped=True)
    for sub in ('JPEGImages', 'Annotations', osp.join('ImageSets', 'Main')):
        os.makedirs(osp.join(voc, sub), exist_ok=True)
    next_id = 1
    for split, num in (('trainval', num_trainval), ('test', num_test)):
        ids = []
        for index in progress_iter(
                range(num), f'shapes VOC {split}', enable=progress):
            img, boxes, labels = render_detection_image(
                seed, index, img_size, split, variant=variant)
            img_id = f'{next_id:06d}'
            next_id += 1
            imwrite_rgb(osp.join(voc, 'JPEGImages', f'{img_id}.jpg'), img)
            _voc_xml(img_id, img_size, boxes, labels).write(
                osp.join(voc, 'Annotations', f'{img_id}.xml'),
                encoding='utf-8')
            ids.append(img_id)
        with open(osp.join(root, result['ann_files'][split]), 'w') as f:
            f.write(''.join(f'{i}\n' for i in ids))
    write_class_list(osp.join(voc, 'classes.txt'), SHAPE_CLASSES)
    prepare_output(voc, [], params, finished=True)
    return dict(result, skipped=False)


def generate_shapes(out_dir: str,
                    num_train: int = 1800,
                    num_val: int = 360,
                    img_size: int = 64,
                    seed: int = 0,
                    det_train: int = 150,
                    det_test: int = 50,
                    det_img_size: int = 128,
                    overwrite: bool = False,
                    progress: bool = True,
                    variant: str = 'hard') -> Dict[str, Dict]:
    """Write both sets: ``out_dir/cls`` (classification) and ``out_dir/voc``.

    Args:
        out_dir (str): Output folder.
        num_train, num_val, img_size: See :func:`generate_shapes_cls`.
        seed (int): Seed of both sets.
        det_train, det_test, det_img_size: trainval/test sizes and image side of
            :func:`generate_shapes_voc`.
        overwrite (bool): Regenerate sets that are already there.
        progress (bool): Show progress bars.
        variant (str): ``'clean'`` or ``'hard'`` (see :data:`VARIANTS`).

    Returns:
        dict: ``{'cls': ..., 'voc': ...}`` with the results of both generators.
    """
    cls = generate_shapes_cls(
        osp.join(out_dir, 'cls'), num_train, num_val, img_size, seed,
        overwrite, progress, variant)
    voc = generate_shapes_voc(
        osp.join(out_dir, 'voc'), det_train, det_test, det_img_size, seed,
        overwrite, progress, variant)
    return dict(cls=cls, voc=voc)
