# Copyright (c) mmfa contributors. All rights reserved.
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from tests.utils import ROOT, load_tool
CLASS_LIST = osp.join(ROOT, 'configs/_base_/datasets/imagenet100_classes.txt')


generate_shapes = load_tool('tools/dataset_converters/generate_shapes.py')
digits_tool = load_tool('tools/dataset_converters/digits_to_imagenet.py')
in100 = load_tool('tools/dataset_converters/build_imagenet100.py')


def _read_meta(path):
    with open(path) as f:
        return [(ln.rsplit(' ', 1)[0], int(ln.rsplit(' ', 1)[1]))
                for ln in f.read().splitlines()]


# ---------------------------------------------------------------- shapes CLI
def test_generate_shapes_cli(tmp_path, capsys):
    from mmfa.datasets import SHAPE_CLASSES
    out = str(tmp_path / 'shapes')
    args = [
        out, '--num-train', '20', '--num-val', '10', '--img-size', '32',
        '--det-train', '4', '--det-test', '2', '--det-img-size', '64',
        '--no-progress'
    ]
    assert generate_shapes.main(args) == 0
    assert len(_read_meta(osp.join(out, 'cls/meta/train.txt'))) == 20
    assert len(_read_meta(osp.join(out, 'cls/meta/val.txt'))) == 10
    main = osp.join(out, 'voc/VOC2007/ImageSets/Main')
    assert len(open(osp.join(main, 'trainval.txt')).read().split()) == 4
    assert len(open(osp.join(main, 'test.txt')).read().split()) == 2
    assert len(os.listdir(osp.join(out, 'voc/VOC2007/JPEGImages'))) == 6
    assert cv2.imread(osp.join(out, 'voc/VOC2007/JPEGImages/000001.jpg')
                      ).shape == (64, 64, 3)
    assert ', '.join(SHAPE_CLASSES) in capsys.readouterr().out
    assert generate_shapes.main(args) == 0  # second run: up to date
    assert 'already up to date' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        generate_shapes.main([out, '--num-train', '-1'])


# ---------------------------------------------------------------- digits
def test_digits_to_imagenet(tmp_path):
    from sklearn.datasets import load_digits
    digits = load_digits()
    out = str(tmp_path / 'digits')
    assert digits_tool.main([out, '--img-size', '8', '--no-progress']) == 0
    train = _read_meta(osp.join(out, 'meta/train.txt'))
    val = _read_meta(osp.join(out, 'meta/val.txt'))
    assert len(train) + len(val) == len(digits.target) == 1797
    for c in range(10):
        n_c = int((digits.target == c).sum())
        assert sum(lb == c for _, lb in val) == round(0.2 * n_c)
    seen = set()
    for split, samples in (('train', train), ('val', val)):
        for rel, label in samples:
            index = int(osp.splitext(rel)[0].split('_')[-1])
            seen.add(index)
            assert label == digits.target[index]
            assert rel.split('/')[0] == str(label)
            img = cv2.imread(osp.join(out, split, rel))
            # at 8 px no resampling: grey levels 0..16 scaled to 0..255
            expected = np.round(digits.images[index] * 255 / 16)
            for ch in range(3):
                np.testing.assert_array_equal(img[..., ch], expected)
    assert seen == set(range(1797))
    assert open(osp.join(out, 'meta/classes.txt')).read().split() == [
        str(i) for i in range(10)
    ]


def test_digits_split_deterministic(tmp_path):
    from mmfa.datasets import digits_split
    labels = np.repeat(np.arange(3), [10, 20, 31])
    a = digits_split(labels, 0.2, seed=0)
    np.testing.assert_array_equal(a, digits_split(labels, 0.2, seed=0))
    assert not np.array_equal(a, digits_split(labels, 0.2, seed=1))
    assert [a[labels == c].sum() for c in range(3)] == [2, 4, 6]
    with pytest.raises(ValueError, match='val_ratio'):
        digits_split(labels, 1.0, 0)
    out = str(tmp_path / 'd')
    assert digits_tool.main([out, '--img-size', '16', '--no-progress']) == 0
    img = cv2.imread(osp.join(out, 'train', _read_meta(
        osp.join(out, 'meta/train.txt'))[0][0]))
    assert img.shape == (16, 16, 3)


# ---------------------------------------------------------------- ImageNet-100
def _write_img(path):
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.zeros((4, 4, 3), np.uint8))


def _fake_imagenet(root, wnids, n_train=2, n_val=1, flat_val=False,
                   extra=('n99999999', )):
    for w in list(wnids) + list(extra):
        for i in range(n_train):
            _write_img(osp.join(root, 'train', w, f'{w}_{i}.JPEG'))
    if not flat_val:
        for w in list(wnids) + list(extra):
            for i in range(n_val):
                _write_img(osp.join(root, 'val', w, f'val_{w}_{i}.JPEG'))
    return root


def test_class_list_is_the_shared_cmc_list():
    wnids = in100.read_class_list(CLASS_LIST)
    assert len(wnids) == 100 == len(set(wnids))
    shared = '/work/shared/data/imagenet100_classes.txt'
    if osp.isfile(shared):
        assert wnids == open(shared).read().split()


def test_build_imagenet100_full_list_folders(tmp_path):
    wnids = open(CLASS_LIST).read().split()
    root = _fake_imagenet(str(tmp_path / 'in1k'), wnids, n_train=1)
    out = str(tmp_path / 'in100')
    # default --class-list resolves from the repository root
    assert in100.main([root, out]) == 0
    train = _read_meta(osp.join(out, 'meta/train.txt'))
    val = _read_meta(osp.join(out, 'meta/val.txt'))
    assert train == [(f'{w}/{w}_0.JPEG', i) for i, w in enumerate(wnids)]
    assert val == [(f'{w}/val_{w}_0.JPEG', i) for i, w in enumerate(wnids)]
    assert open(osp.join(out, 'meta/classes.txt')).read().split() == wnids


def test_build_imagenet100_link_and_load(tmp_path):
    wnids = open(CLASS_LIST).read().split()[:3]
    cl = tmp_path / 'classes.txt'
    cl.write_text('\n'.join(wnids) + '\n')
    root = _fake_imagenet(str(tmp_path / 'in1k'), wnids)
    out = str(tmp_path / 'in100')
    assert in100.main([root, out, '--class-list', str(cl), '--link']) == 0
    for w in wnids:
        assert osp.islink(osp.join(out, 'train', w))
        assert osp.realpath(osp.join(out, 'val', w)) == osp.realpath(
            osp.join(root, 'val', w))
    assert not osp.exists(osp.join(out, 'train', 'n99999999'))
    # a second run keeps the links
    assert in100.main([root, out, '--class-list', str(cl), '--link']) == 0

    from mmengine.registry import DefaultScope

    from mmfa.registry import DATASETS
    from mmfa.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmfa'):
        ds = DATASETS.build(
            dict(
                type='CustomDataset',
                data_root=out,
                ann_file='meta/train.txt',
                data_prefix='train',
                pipeline=[dict(type='LoadImageFromFile')]))
    assert len(ds) == 6
    assert [ds.get_data_info(i)['gt_label'] for i in range(6)] == [
        0, 0, 1, 1, 2, 2
    ]
    assert ds[5]['img'].shape == (4, 4, 3)


def test_build_imagenet100_flat_val(tmp_path):
    wnids = open(CLASS_LIST).read().split()[:3]
    cl = tmp_path / 'classes.txt'
    cl.write_text('\n'.join(wnids) + '\n')
    root = str(tmp_path / 'in1k')
    _fake_imagenet(root, wnids, flat_val=True)
    # 1k labels: the sorted-wnid order of mmpretrain's meta files
    all_wnids = sorted(wnids + ['n99999999'])
    label_1k = {w: i * 7 + 3 for i, w in enumerate(all_wnids)}
    os.makedirs(osp.join(root, 'meta'))
    with open(osp.join(root, 'meta/train.txt'), 'w') as f:
        for w in all_wnids:
            f.write(f'{w}/{w}_0.JPEG {label_1k[w]}\n')
    lines = []
    for i, w in enumerate(all_wnids * 2):
        name = f'ILSVRC2012_val_{i:08d}.JPEG'
        _write_img(osp.join(root, 'val', name))
        lines.append(f'{name} {label_1k[w]}\n')
    with open(osp.join(root, 'meta/val.txt'), 'w') as f:
        f.writelines(lines)
    out = str(tmp_path / 'in100')
    res = in100.build_imagenet100(root, out, str(cl), link=True)
    assert res['val_mode'] == 'flat' and res['num_val'] == 6
    val = _read_meta(osp.join(out, 'meta/val.txt'))
    expected = [(f'ILSVRC2012_val_{i:08d}.JPEG', wnids.index(w))
                for i, w in enumerate(all_wnids * 2) if w in wnids]
    assert val == expected
    for name, _ in val:
        assert osp.islink(osp.join(out, 'val', name))
    # without meta/train.txt and with an incomplete train/ the map is unknown
    os.remove(osp.join(root, 'meta/train.txt'))
    with pytest.raises(ValueError, match='label -> wnid'):
        in100.build_imagenet100(root, str(tmp_path / 'x'), str(cl))


def test_build_imagenet100_errors(tmp_path, capsys):
    wnids = open(CLASS_LIST).read().split()[:4]
    cl = tmp_path / 'classes.txt'
    cl.write_text('\n'.join(wnids) + '\n')
    missing_root = str(tmp_path / 'nowhere' / 'imagenet')
    assert in100.main([missing_root, str(tmp_path / 'o'), '--class-list',
                       str(cl)]) == 1
    err = capsys.readouterr().err
    assert missing_root in err and 'does not exist' in err

    root = _fake_imagenet(str(tmp_path / 'in1k'), wnids[:2])
    with pytest.raises(ValueError) as e:
        in100.build_imagenet100(root, str(tmp_path / 'o'), str(cl))
    msg = str(e.value)
    assert '2 of the 4 classes' in msg
    assert wnids[2] in msg and wnids[3] in msg and wnids[0] not in msg

    _fake_imagenet(root, wnids[2:], n_val=0, extra=())
    for w in wnids[2:]:
        os.makedirs(osp.join(root, 'val', w), exist_ok=True)
    os.rmdir(osp.join(root, 'val', wnids[3]))
    with pytest.raises(ValueError, match=wnids[3]):
        in100.build_imagenet100(root, str(tmp_path / 'o'), str(cl))

    bad = tmp_path / 'bad.txt'
    bad.write_text('n01440764\ncat\n')
    with pytest.raises(ValueError, match='not WordNet ids'):
        in100.read_class_list(str(bad))
    with pytest.raises(FileNotFoundError, match='Class list'):
        in100.read_class_list(str(tmp_path / 'none.txt'))
