# Copyright (c) mmfa contributors. All rights reserved.
"""Throughput (images/s) of the data-augmentation pipelines per data-loader worker
count, on generated JPEGs.

The DA settings of Zhang et al., "Feature Augmentation for Self-supervised
Contrastive Learning: A Closer Look" (arXiv:2410.12396, Table III) differ in their
blur and solarisation, whose cost on the CPU decides how many loader workers a GPU
needs. By default this tool times the four two-view pipelines of
``configs/_base_/datasets/imagenet1k_byol-aug.py`` (``byol_pipeline``,
``symm_weak_pipeline``, ``symm_strong_pipeline``, ``asymm_strong_pipeline``); with
``--configs`` it times the training pipelines of those configs instead.

Images are generated (smooth random colour fields with noise, sides of 256-500 px,
JPEG) into a temporary folder, so nothing is downloaded. Each (pipeline, workers)
cell runs one untimed epoch over the images (worker start-up, page cache), then
``--repeats`` timed epochs with persistent workers; images/s counts source images
(each one yields all of the pipeline's views).

Example::

    python tools/analysis_tools/benchmark_pipeline.py --num-images 512 \\
        --workers 0 1 2 4 --out work_dirs/bench_pipeline.json
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
import benchmark_utils as bu  # noqa: E402

ROOT = osp.dirname(osp.dirname(_HERE))
DA_CONFIG = osp.join(ROOT, 'configs', '_base_', 'datasets',
                     'imagenet1k_byol-aug.py')
DA_PIPELINES = ('byol_pipeline', 'symm_weak_pipeline', 'symm_strong_pipeline',
                'asymm_strong_pipeline')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Images/s of DA pipelines per data-loader worker count.')
    parser.add_argument(
        '--configs', nargs='+', default=None,
        help='configs whose train_dataloader pipeline is timed (default: the '
        'named pipelines of --da-config)')
    parser.add_argument('--da-config', default=DA_CONFIG,
                        help='config file that defines the named pipelines')
    parser.add_argument('--pipelines', nargs='+', default=list(DA_PIPELINES),
                        help='pipeline variables of --da-config to time')
    parser.add_argument('--num-images', type=int, default=256,
                        help='generated images (one epoch)')
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2],
                        help='data-loader worker counts')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=1,
                        help='timed epochs per cell (median reported)')
    parser.add_argument('--image-dir', default=None,
                        help='use these images instead of generated ones')
    parser.add_argument('--min-size', type=int, default=256)
    parser.add_argument('--max-size', type=int, default=500)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the report as JSON')
    args = parser.parse_args(argv)
    if args.num_images < 1 or args.batch_size < 1 or args.repeats < 1:
        parser.error('--num-images, --batch-size and --repeats must be >= 1')
    if any(w < 0 for w in args.workers):
        parser.error('--workers must be >= 0')
    if not 16 <= args.min_size <= args.max_size:
        parser.error('need 16 <= --min-size <= --max-size')
    return args


def load_pipelines(args):
    """(name, pipeline) pairs to time."""
    from mmengine.config import Config
    if args.configs:
        out = []
        for path in args.configs:
            if not osp.isfile(path):
                raise SystemExit(f'benchmark_pipeline.py: config not found: '
                                 f'{path}')
            cfg = Config.fromfile(path)
            try:
                pipeline = cfg.train_dataloader.dataset.pipeline
            except AttributeError:
                raise SystemExit(f'benchmark_pipeline.py: {path} has no '
                                 'train_dataloader.dataset.pipeline')
            out.append((osp.splitext(osp.basename(path))[0], pipeline))
        return out
    cfg = Config.fromfile(args.da_config)
    missing = [p for p in args.pipelines if p not in cfg]
    if missing:
        valid = sorted(k for k in cfg.keys() if k.endswith('pipeline'))
        raise SystemExit(f'benchmark_pipeline.py: {missing} not defined in '
                         f'{args.da_config}; valid names: {valid}')
    return [(p, cfg[p]) for p in args.pipelines]


def time_cell(pipeline, image_dir, workers, args) -> dict:
    from mmengine.runner import Runner
    loader = Runner.build_dataloader(
        dict(
            batch_size=args.batch_size,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=False,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='CustomDataset',
                data_root=image_dir,
                with_label=False,
                pipeline=pipeline)),
        seed=args.seed)
    num = len(loader.dataset)

    def epoch():
        t0 = time.perf_counter()
        seen = 0
        for batch in loader:
            seen += len(batch['data_samples'])
        return time.perf_counter() - t0, seen

    epoch()  # untimed: worker start-up, page cache, lazy init
    times = []
    for _ in range(args.repeats):
        t, seen = epoch()
        if seen != num:
            raise RuntimeError(f'the loader yielded {seen} of {num} images')
        times.append(t)
    del loader
    t = bu.summarize(times)
    return dict(
        workers=workers,
        images=num,
        epoch_time=t,
        images_per_s=num / t['median'],
        ms_per_image=t['median'] * 1e3 / num)


def format_report(report: dict) -> str:
    workers = report['settings']['workers']
    header = ['pipeline'] + [f'{w} workers img/s' for w in workers] + [
        'ms / image (0 workers)' if 0 in workers else 'ms / image'
    ]
    rows = []
    for res in report['results']:
        cells = {c['workers']: c for c in res['cells']}
        ref = cells.get(0) or res['cells'][0]
        rows.append([res['pipeline']] +
                    [f"{cells[w]['images_per_s']:.1f}" for w in workers] +
                    [f"{ref['ms_per_image']:.1f}"])
    s, m = report['settings'], report['machine']
    title = (f"{s['num_images']} generated JPEGs ({s['min_size']}-"
             f"{s['max_size']} px), batch {s['batch_size']}, {m['cpu']} "
             f"({m['cpu_affinity']} usable cores), median of {s['repeats']} "
             'epoch(s) after a warm-up epoch')
    return title + '\n\n' + bu.markdown_table(header, rows)


def main(argv=None):
    args = parse_args(argv)
    bu.setup_mmfa()
    try:  # the configs' env_cfg: OpenCV single-threaded inside each worker
        import cv2
        cv2.setNumThreads(0)
    except ImportError:
        pass
    import torch

    pipelines = load_pipelines(args)
    tmp = None
    image_dir = args.image_dir
    if image_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix='mmfa_bench_pipeline_')
        image_dir = tmp.name
        bu.write_fake_images(image_dir, args.num_images, args.min_size,
                             args.max_size, seed=args.seed)
    results = []
    for name, pipeline in pipelines:
        cells = []
        for w in args.workers:
            cell = time_cell(pipeline, image_dir, w, args)
            cells.append(cell)
            print(f'{name} workers={w}: {cell["images_per_s"]:.1f} img/s',
                  file=sys.stderr, flush=True)
        results.append(dict(pipeline=name, cells=cells))
    report = dict(
        tool='benchmark_pipeline',
        machine=bu.machine_info(torch.device('cpu')),
        settings=dict(
            num_images=args.num_images,
            min_size=args.min_size,
            max_size=args.max_size,
            batch_size=args.batch_size,
            workers=args.workers,
            repeats=args.repeats,
            image_dir=args.image_dir),
        results=results)
    print(format_report(report))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    if tmp is not None:
        tmp.cleanup()
    return report


if __name__ == '__main__':
    main()
