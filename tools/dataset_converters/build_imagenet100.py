# Copyright (c) mmfa contributors. All rights reserved.
"""Build the ImageNet-100 subset (CMC's 100 classes, used for Tables I-IV of Zhang et
al., arXiv:2410.12396) from an ImageNet-1k root in mmpretrain's layout.

The root holds ``train/<wnid>/*.JPEG`` and either ``val/<wnid>/*.JPEG`` or a flat
``val/`` with mmpretrain's ``meta/val.txt`` (``<file> <label 0..999>``). The 1k label to
wnid map of a flat val comes from ``meta/train.txt`` (``<wnid>/<file> <label>``) or,
failing that, from the sorted wnid folders of a complete ``train/`` (the standard
order). Writes ``OUT_DIR/meta/{train,val,classes}.txt`` with labels 0..99 in the order
of the class list; ``--link`` also symlinks the images so that OUT_DIR is a
self-contained ``data_root``. Example::

    python tools/dataset_converters/build_imagenet100.py data/imagenet \\
        data/imagenet100 --link
"""
import argparse
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CLASS_LIST = 'configs/_base_/datasets/imagenet100_classes.txt'
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
_WNID = re.compile(r'^n\d{8}$')


def read_class_list(path: str) -> List[str]:
    """Read one WordNet id a line (blank lines and ``#`` comments skipped)."""
    if not osp.isfile(path) and not osp.isabs(path) and osp.isfile(
            osp.join(REPO_ROOT, path)):
        path = osp.join(REPO_ROOT, path)  # default works from any cwd
    if not osp.isfile(path):
        raise FileNotFoundError(f'Class list {path} does not exist; pass '
                                '--class-list with a file of WordNet ids.')
    with open(path) as f:
        wnids = [ln.split('#', 1)[0].strip() for ln in f]
    wnids = [w for w in wnids if w]
    bad = [w for w in wnids if not _WNID.match(w)]
    if bad:
        raise ValueError(f'{path} has entries that are not WordNet ids '
                         f'(nXXXXXXXX): {bad[:10]}')
    dups = sorted({w for w in wnids if wnids.count(w) > 1})
    if dups:
        raise ValueError(f'{path} lists these classes twice: {dups}')
    return wnids


def _images(folder: str) -> List[str]:
    return sorted(e.name for e in os.scandir(folder)
                  if e.is_file() and e.name.lower().endswith(IMG_EXTENSIONS))


def _missing_error(kind: str, folder: str, missing: List[str],
                   total: int) -> ValueError:
    return ValueError(
        f'{len(missing)} of the {total} classes of the list have no {kind} '
        f'folder in {folder}: {", ".join(missing)}. Check that the root is a '
        'complete ImageNet-1k in mmpretrain\'s layout.')


def _label_to_wnid(root: str, train_dir: str) -> Dict[int, str]:
    """The ImageNet-1k label -> wnid map that mmpretrain's meta files use."""
    train_meta = osp.join(root, 'meta', 'train.txt')
    if osp.isfile(train_meta):
        mapping = {}
        with open(train_meta) as f:
            for line in f:
                parts = line.strip().rsplit(' ', 1)
                if len(parts) == 2 and '/' in parts[0]:
                    mapping.setdefault(int(parts[1]), parts[0].split('/')[0])
        if mapping:
            return mapping
    wnids = sorted(e.name for e in os.scandir(train_dir)
                   if e.is_dir() and _WNID.match(e.name))
    if len(wnids) == 1000:
        return dict(enumerate(wnids))
    raise ValueError(
        f'{root}/val is flat, but the label -> wnid map of meta/val.txt cannot '
        f'be found: {train_meta} is missing and train/ holds {len(wnids)} '
        'wnid folders instead of 1000. Add mmpretrain\'s meta/train.txt or '
        'sort val/ into val/<wnid>/ folders.')


def collect_samples(imagenet_root: str, wnids: List[str]
                    ) -> Tuple[List[Tuple[str, int]], List[Tuple[str, int]],
                               str]:
    """Collect ``(relative path, label)`` pairs of both splits.

    Returns:
        tuple: train samples (relative to ``train/``), val samples (relative to
        ``val/``) and the val mode, ``'folders'`` or ``'flat'``.
    """
    root = imagenet_root
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'ImageNet root {root} does not exist (or is not a folder); pass '
            'the folder that holds train/ and val/ in mmpretrain\'s layout.')
    train_dir, val_dir = osp.join(root, 'train'), osp.join(root, 'val')
    for d in (train_dir, val_dir):
        if not osp.isdir(d):
            raise FileNotFoundError(
                f'{d} does not exist; the ImageNet root must hold train/ and '
                'val/ (mmpretrain\'s layout).')
    missing = [w for w in wnids if not osp.isdir(osp.join(train_dir, w))]
    if missing:
        raise _missing_error('train', train_dir, missing, len(wnids))
    train, empty = [], []
    for label, w in enumerate(wnids):
        files = _images(osp.join(train_dir, w))
        if not files:
            empty.append(w)
        train += [(f'{w}/{f}', label) for f in files]
    if empty:
        raise ValueError(f'These classes have no images in {train_dir}: '
                         f'{", ".join(empty)}')

    val_folders = [w for w in wnids if osp.isdir(osp.join(val_dir, w))]
    if val_folders:
        missing = [w for w in wnids if w not in val_folders]
        if missing:
            raise _missing_error('val', val_dir, missing, len(wnids))
        val = [(f'{w}/{f}', label) for label, w in enumerate(wnids)
               for f in _images(osp.join(val_dir, w))]
        return train, val, 'folders'

    val_meta = osp.join(root, 'meta', 'val.txt')
    if not osp.isfile(val_meta):
        raise FileNotFoundError(
            f'{val_dir} has no <wnid>/ folders and {val_meta} does not exist; '
            'a flat val/ needs mmpretrain\'s meta/val.txt (<file> <label>).')
    label_to_wnid = _label_to_wnid(root, train_dir)
    new_label = {w: i for i, w in enumerate(wnids)}
    val, seen = [], set()
    with open(val_meta) as f:
        for line in f:
            parts = line.strip().rsplit(' ', 1)
            if len(parts) != 2:
                continue
            w = label_to_wnid.get(int(parts[1]))
            if w in new_label:
                if not osp.isfile(osp.join(val_dir, parts[0])):
                    raise FileNotFoundError(
                        f'{val_meta} lists {parts[0]}, which is not in '
                        f'{val_dir}.')
                val.append((parts[0], new_label[w]))
                seen.add(w)
    missing = [w for w in wnids if w not in seen]
    if missing:
        raise ValueError(f'{val_meta} has no images of {len(missing)} classes '
                         f'of the list: {", ".join(missing)}')
    return train, val, 'flat'


def _symlink(src: str, dst: str) -> None:
    if osp.islink(dst):
        if os.readlink(dst) == src:
            return
        os.remove(dst)
    elif osp.exists(dst):
        raise FileExistsError(f'{dst} exists and is not a symlink; remove it '
                              'or choose another OUT_DIR.')
    os.symlink(src, dst)


def build_imagenet100(imagenet_root: str,
                      out_dir: str,
                      class_list: str = DEFAULT_CLASS_LIST,
                      link: bool = False) -> Dict:
    """Write the ImageNet-100 annotation files (and symlinks with ``link``).

    Args:
        imagenet_root (str): ImageNet-1k root (mmpretrain layout).
        out_dir (str): Output folder; ``meta/{train,val,classes}.txt`` go there.
        class_list (str): File of the 100 WordNet ids; its order sets the labels.
        link (bool): Symlink ``train/<wnid>`` (and ``val/<wnid>`` or each flat val
            image) into ``out_dir`` so that it can serve as ``data_root``.

    Returns:
        dict: ``num_train``, ``num_val``, ``val_mode`` and ``data_root`` (the
        folder the meta paths are relative to: ``out_dir`` with ``link``).
    """
    wnids = read_class_list(class_list)
    train, val, val_mode = collect_samples(imagenet_root, wnids)
    meta = osp.join(out_dir, 'meta')
    os.makedirs(meta, exist_ok=True)
    for name, samples in (('train', train), ('val', val)):
        with open(osp.join(meta, f'{name}.txt'), 'w') as f:
            f.write(''.join(f'{p} {lb}\n' for p, lb in samples))
    with open(osp.join(meta, 'classes.txt'), 'w') as f:
        f.write(''.join(f'{w}\n' for w in wnids))
    root = osp.abspath(imagenet_root)
    if link:
        for split in ('train', 'val'):
            os.makedirs(osp.join(out_dir, split), exist_ok=True)
        for w in wnids:
            _symlink(osp.join(root, 'train', w), osp.join(out_dir, 'train', w))
        if val_mode == 'folders':
            for w in wnids:
                _symlink(osp.join(root, 'val', w), osp.join(out_dir, 'val', w))
        else:
            for p, _ in val:
                _symlink(osp.join(root, 'val', p), osp.join(out_dir, 'val', p))
    return dict(
        num_train=len(train),
        num_val=len(val),
        val_mode=val_mode,
        data_root=osp.abspath(out_dir) if link else root)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Build the ImageNet-100 annotation files.')
    parser.add_argument('imagenet_root', help='ImageNet-1k root folder')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument(
        '--class-list',
        default=DEFAULT_CLASS_LIST,
        help='file of the 100 WordNet ids (their order gives the labels)')
    parser.add_argument(
        '--link',
        action='store_true',
        help='symlink the images into OUT_DIR (a self-contained data_root)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        res = build_imagenet100(args.imagenet_root, args.out_dir,
                                args.class_list, args.link)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    meta = osp.abspath(osp.join(args.out_dir, 'meta'))
    print(f'ImageNet-100: {res["num_train"]} train and {res["num_val"]} val '
          f'images (val: {res["val_mode"]}); annotations in {meta}')
    print('dataset config: data_root='
          f'{res["data_root"]!r}, ann_file={osp.join(meta, "train.txt")!r} / '
          f'{osp.join(meta, "val.txt")!r}, data_prefix=\'train\' / \'val\'')
    return 0


if __name__ == '__main__':
    sys.exit(main())
