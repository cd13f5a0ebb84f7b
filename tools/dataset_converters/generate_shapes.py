# Copyright (c) mmfa contributors. All rights reserved.
"""Generate mmfa's procedural shapes datasets (offline, deterministic).

Writes OUT_DIR/cls (mmpretrain ImageNet-style classification set) and OUT_DIR/voc
(PASCAL VOC 2007-style detection set of the same shape classes); see
``mmfa/datasets/generators/shapes.py``. Example::

    python tools/dataset_converters/generate_shapes.py data/shapes
"""
import argparse
import sys

from mmfa.datasets import SHAPE_CLASSES, generate_shapes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument(
        '--num-train', type=int, default=1800,
        help='classification training images')
    parser.add_argument(
        '--num-val', type=int, default=360,
        help='classification validation images')
    parser.add_argument(
        '--img-size', type=int, default=64, help='classification image side')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed')
    parser.add_argument(
        '--det-train', type=int, default=150,
        help='detection trainval images')
    parser.add_argument(
        '--det-test', type=int, default=50, help='detection test images')
    parser.add_argument(
        '--det-img-size', type=int, default=128,
        help='detection image side')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='regenerate even if an identical set is already there')
    parser.add_argument(
        '--no-progress', action='store_true', help='hide progress bars')
    args = parser.parse_args(argv)
    for name in ('num_train', 'num_val', 'det_train', 'det_test', 'seed'):
        if getattr(args, name) < 0:
            parser.error(f'--{name.replace("_", "-")} must be >= 0')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        res = generate_shapes(
            args.out_dir,
            num_train=args.num_train,
            num_val=args.num_val,
            img_size=args.img_size,
            seed=args.seed,
            det_train=args.det_train,
            det_test=args.det_test,
            det_img_size=args.det_img_size,
            overwrite=args.overwrite,
            progress=not args.no_progress)
    except (ValueError, FileExistsError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    for key in ('cls', 'voc'):
        state = 'already up to date' if res[key]['skipped'] else 'written'
        print(f'{key}: {res[key]["data_root"]} ({state})')
    print(f'classes ({len(SHAPE_CLASSES)}): {", ".join(SHAPE_CLASSES)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
