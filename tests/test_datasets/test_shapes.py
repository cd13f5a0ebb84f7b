# Copyright (c) mmfa contributors. All rights reserved.
import filecmp
import os
import os.path as osp
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from mmfa.datasets import (SHAPE_CLASSES, generate_shapes_cls,
                           generate_shapes_voc, render_detection_image,
                           render_shape_image)

K = len(SHAPE_CLASSES)


def _files(root):
    out = []
    for dirpath, _, names in os.walk(root):
        out += [osp.relpath(osp.join(dirpath, n), root) for n in names]
    return sorted(out)


def _same_tree(a, b):
    files = _files(a)
    assert files == _files(b)
    return all(
        filecmp.cmp(osp.join(a, f), osp.join(b, f), shallow=False)
        for f in files)


def test_classes_sorted_so_folder_scan_agrees():
    # CustomDataset without ann_file labels folders in sorted order
    assert list(SHAPE_CLASSES) == sorted(SHAPE_CLASSES)
    assert 6 <= K <= 10 and len(set(SHAPE_CLASSES)) == K


def test_render_is_pure_function_of_seed_and_index():
    a, la = render_shape_image(3, 17, 48)
    b, lb = render_shape_image(3, 17, 48)
    assert la == lb == 17 % K
    np.testing.assert_array_equal(a, b)
    assert a.shape == (48, 48, 3) and a.dtype == np.uint8
    assert not np.array_equal(a, render_shape_image(4, 17, 48)[0])
    assert not np.array_equal(a, render_shape_image(3, 17, 48, 'val')[0])
    with pytest.raises(ValueError, match='valid splits'):
        render_shape_image(0, 0, 48, 'holdout')


def test_shape_is_visible_and_colour_is_no_shortcut():
    """The object stands out from the background around it, and its colour carries
    no class information: per-class mean object colours match the overall mean
    (uniform RGB colours have std 74, so a mean over 70 images has std ~9)."""
    colours = {c: [] for c in range(K)}
    for i in range(70 * K):
        img, label, mask = render_shape_image(0, i, 32, return_mask=True)
        pix = img.reshape(-1, 3).astype(float)
        obj = pix[mask.reshape(-1) >= 0.99].mean(0)
        # background right around the shape (dilated mask minus the mask)
        ring = cv2.dilate((mask > 0).astype(np.uint8), np.ones((5, 5)))
        ring = (ring > 0) & (mask == 0)
        bg = pix[ring.reshape(-1)].mean(0)
        assert np.linalg.norm(obj - bg) > 60, f'image {i}: shape not visible'
        colours[label].append(obj)
    means = np.array([np.mean(colours[c], 0) for c in range(K)])
    assert np.abs(means - means.mean(0)).max() < 35, means


def test_detection_boxes_are_tight_inside_and_barely_overlap():
    for index in range(25):
        img, boxes, labels, masks = render_detection_image(
            1, index, 96, return_masks=True)
        n = len(boxes)
        assert 2 <= n <= 4 and labels.shape == (n, ) and masks.shape[0] == n
        assert ((0 <= labels) & (labels < K)).all()
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 95).all()
        assert ((boxes[:, 2:] - boxes[:, :2]) >= 6).all()
        for box, mask in zip(boxes, masks):
            x0, y0, x1, y1 = box
            on = mask >= 0.5
            inside = np.zeros_like(on)
            inside[y0:y1 + 1, x0:x1 + 1] = True
            assert on[inside].any() and not on[~inside].any()
            # tight: every edge row/column of the box holds shape pixels
            assert on[y0, x0:x1 + 1].any() and on[y1, x0:x1 + 1].any()
            assert on[y0:y1 + 1, x0].any() and on[y0:y1 + 1, x1].any()
        for i in range(n):  # brute-force pixel intersection of boxes
            for j in range(i + 1, n):
                a = np.zeros((96, 96), bool)
                b = np.zeros((96, 96), bool)
                a[boxes[i][1]:boxes[i][3] + 1, boxes[i][0]:boxes[i][2] + 1] = 1
                b[boxes[j][1]:boxes[j][3] + 1, boxes[j][0]:boxes[j][2] + 1] = 1
                assert (a & b).sum() <= 0.1 * min(a.sum(), b.sum())
        again = render_detection_image(1, index, 96)
        np.testing.assert_array_equal(again[0], img)
        np.testing.assert_array_equal(again[1], boxes)


def test_cls_layout_deterministic_and_loadable(tmp_path):
    kw = dict(num_train=2 * K + 3, num_val=K, img_size=24, progress=False)
    r1 = generate_shapes_cls(str(tmp_path / 'a'), seed=5, **kw)
    generate_shapes_cls(str(tmp_path / 'b'), seed=5, **kw)
    generate_shapes_cls(str(tmp_path / 'c'), seed=6, **kw)
    assert not r1['skipped']
    assert _same_tree(tmp_path / 'a', tmp_path / 'b')
    pngs = [f for f in _files(tmp_path / 'a') if f.endswith('.png')]
    assert len(pngs) == 3 * K + 3
    differ = [
        f for f in pngs if not filecmp.cmp(
            tmp_path / 'a' / f, tmp_path / 'c' / f, shallow=False)
    ]
    assert len(differ) == len(pngs)

    root = tmp_path / 'a'
    assert (root / 'meta' / 'classes.txt').read_text().split() == list(
        SHAPE_CLASSES)
    for split, num in (('train', 2 * K + 3), ('val', K)):
        lines = (root / 'meta' / f'{split}.txt').read_text().splitlines()
        assert len(lines) == num
        for i, line in enumerate(lines):
            rel, label = line.rsplit(' ', 1)
            assert int(label) == i % K
            assert rel.split('/')[0] == SHAPE_CLASSES[int(label)]
            img = cv2.imread(str(root / split / rel))
            assert img.shape == (24, 24, 3)
            # the file is exactly the rendered image (RGB on disk via cv2 BGR)
            expected, _ = render_shape_image(5, i, 24, split)
            np.testing.assert_array_equal(img[..., ::-1], expected)

    from mmfa.registry import DATASETS
    from mmfa.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmfa'):
        pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
        ds = DATASETS.build(
            dict(
                type='CustomDataset',
                data_root=str(root),
                ann_file='meta/train.txt',
                data_prefix='train',
                classes=str(root / 'meta' / 'classes.txt'),
                pipeline=pipeline))
        scan = DATASETS.build(
            dict(
                type='CustomDataset',
                data_root=str(root),
                data_prefix='train',
                pipeline=pipeline))
    assert len(ds) == 2 * K + 3 and ds.metainfo['classes'] == SHAPE_CLASSES
    by_path = {
        ds.get_data_info(i)['img_path']: ds.get_data_info(i)['gt_label']
        for i in range(len(ds))
    }
    by_scan = {
        scan.get_data_info(i)['img_path']: scan.get_data_info(i)['gt_label']
        for i in range(len(scan))
    }
    assert by_path == by_scan  # ann file and folder scan agree on labels
    sample = ds[4]
    assert tuple(sample['inputs'].shape) == (3, 24, 24)
    assert int(sample['data_samples'].gt_label) == 4 % K


def test_voc_layout_deterministic_and_loads_in_mmdet(tmp_path):
    kw = dict(num_trainval=6, num_test=3, img_size=64, progress=False)
    res = generate_shapes_voc(str(tmp_path / 'a'), seed=2, **kw)
    generate_shapes_voc(str(tmp_path / 'b'), seed=2, **kw)
    generate_shapes_voc(str(tmp_path / 'c'), seed=3, **kw)
    assert _same_tree(tmp_path / 'a', tmp_path / 'b')
    assert not _same_tree(tmp_path / 'a', tmp_path / 'c')
    voc = tmp_path / 'a' / 'VOC2007'
    ids = {
        s: (voc / 'ImageSets' / 'Main' / f'{s}.txt').read_text().split()
        for s in ('trainval', 'test')
    }
    assert ids['trainval'] == [f'{i:06d}' for i in range(1, 7)]
    assert ids['test'] == [f'{i:06d}' for i in range(7, 10)]

    from mmdet.registry import DATASETS as DET_DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds = DET_DATASETS.build(
            dict(
                type='VOCDataset',
                data_root=res['data_root'],
                ann_file=res['ann_files']['trainval'],
                data_prefix=dict(sub_data_root=res['sub_data_root']),
                metainfo=dict(classes=SHAPE_CLASSES),
                test_mode=True,
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True)
                ]))
    assert len(ds) == 6 and ds.metainfo['dataset_type'] == 'VOC2007'
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        root = ET.parse(info['xml_path']).getroot()
        assert root.find('filename').text == f'{info["img_id"]}.jpg'
        objs = root.findall('object')
        xml_boxes = np.array([[
            int(o.find('bndbox').find(k).text)
            for k in ('xmin', 'ymin', 'xmax', 'ymax')
        ] for o in objs])
        xml_names = [o.find('name').text for o in objs]
        assert all(o.find('difficult').text == '0' for o in objs)
        boxes = np.array([inst['bbox'] for inst in info['instances']])
        labels = [inst['bbox_label'] for inst in info['instances']]
        np.testing.assert_array_equal(boxes, xml_boxes - 1)  # VOC is 1-based
        assert [SHAPE_CLASSES[lb] for lb in labels] == xml_names
        assert (boxes >= 0).all() and (boxes <= 63).all()
        assert (boxes[:, 2] > boxes[:, 0]).all()
        assert (boxes[:, 3] > boxes[:, 1]).all()
        # regenerated from (seed, index) the boxes are the same
        _, ref_boxes, ref_labels = render_detection_image(2, i, 64)
        np.testing.assert_array_equal(boxes, ref_boxes)
        assert labels == ref_labels.tolist()
        loaded = ds[i]
        assert loaded['img'].shape == (64, 64, 3)
        np.testing.assert_array_equal(loaded['gt_bboxes'].numpy(), boxes)


def test_regeneration_rules(tmp_path):
    root = str(tmp_path / 'cls')
    kw = dict(num_val=2, img_size=16, seed=0, progress=False)
    generate_shapes_cls(root, num_train=K + 1, **kw)
    marker = osp.join(root, '.mmfa_dataset.json')
    assert osp.isfile(marker)
    first = osp.join(root, 'train', SHAPE_CLASSES[0],
                     f'{SHAPE_CLASSES[0]}_{K:05d}.png')
    assert osp.isfile(first)
    stamp = os.stat(first).st_mtime_ns
    assert generate_shapes_cls(root, num_train=K + 1, **kw)['skipped']
    assert os.stat(first).st_mtime_ns == stamp
    # other parameters: the old set is replaced, without stale files
    generate_shapes_cls(root, num_train=K, **kw)
    assert not osp.exists(first)
    assert len(_files(osp.join(root, 'train'))) == K
    # folders that mmfa did not write are never deleted
    foreign = tmp_path / 'foreign'
    (foreign / 'train').mkdir(parents=True)
    (foreign / 'train' / 'keep.txt').write_text('x')
    with pytest.raises(FileExistsError, match='not written by an mmfa'):
        generate_shapes_cls(str(foreign), num_train=K, **kw)
    assert (foreign / 'train' / 'keep.txt').exists()


def test_clean_variant_solid_background_no_noise_large_objects():
    import numpy as np
    import pytest

    from mmfa.datasets.generators.shapes import VARIANTS, render_shape_image
    for index in range(9):
        img, label, mask = render_shape_image(3, index, 64, 'train',
                                              return_mask=True,
                                              variant='clean')
        bg = img[mask == 0]
        # one solid colour, no pixel noise
        assert (bg == bg[0]).all()
        # objects of 0.30-0.45 of the side (radius): the mask spans >= ~0.5 side
        ys, xs = np.nonzero(mask >= 0.5)
        assert max(xs.ptp(), ys.ptp()) >= 0.30 * 64
    hard, _ = render_shape_image(3, 0, 64, 'train', variant='hard')
    default, _ = render_shape_image(3, 0, 64, 'train')
    assert (hard == default).all()  # 'hard' stays the default of the function
    assert set(VARIANTS) == {'clean', 'hard'}
    with pytest.raises(ValueError, match='valid variants'):
        render_shape_image(3, 0, 64, 'train', variant='easy')
