# Copyright (c) mmfa contributors. All rights reserved.
"""Convert scikit-learn's digits (shipped with scikit-learn) to mmpretrain's
ImageNet-style layout: OUT_DIR/{train,val}/<digit>/*.png and OUT_DIR/meta/*.txt.
The split is stratified and deterministic for a seed. Example::

    python tools/dataset_converters/digits_to_imagenet.py data/digits
"""
import argparse
import sys

from mmfa.datasets import generate_digits_cls


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument(
        '--img-size', type=int, default=32, help='output image side')
    parser.add_argument(
        '--val-ratio', type=float, default=0.2,
        help='fraction of each class used for validation')
    parser.add_argument('--seed', type=int, default=0, help='split seed')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='regenerate even if an identical set is already there')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide the progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        res = generate_digits_cls(
            args.out_dir,
            img_size=args.img_size,
            val_ratio=args.val_ratio,
            seed=args.seed,
            overwrite=args.overwrite,
            progress=not args.no_progress)
    except (ValueError, FileExistsError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    state = 'already up to date' if res['skipped'] else 'written'
    print(f'digits: {res["data_root"]} ({state})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
