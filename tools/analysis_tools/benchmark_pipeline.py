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

``--batched`` compares, in one run, each per-image two-view pipeline with its
batched path: the workers only decode, crop and flip (or, with ``--src-size``,
only decode fixed-size images) and ``BatchViewAugmentor`` applies the rest of each
view to the batch on ``--device``. Both rates count image pairs per second; the
batched one includes the augmentor (run after each batch, synchronised), and the
ratio is batched / per-image at the same worker count.

Examples::

    python tools/analysis_tools/benchmark_pipeline.py --num-images 512 \\
        --workers 0 1 2 4 --out work_dirs/bench_pipeline.json
    # ImageNet-like: 224 px views of 256-500 px JPEGs, batch 64
    python tools/analysis_tools/benchmark_pipeline.py --batched --device cuda
    # quickstart-like: 64 px sources, 32 px views, no crop in the workers
    python tools/analysis_tools/benchmark_pipeline.py --batched --configs \\
        configs/quickstart/parallel-predictor_resnet18-w16_1xb64-coslr-25e_shapes.py \\
        --size 32 --src-size 64
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
    parser.add_argument('--pipelines', nargs='+', default=None,
                        help='pipeline variables of --da-config to time '
                        '(default: all four; byol_pipeline with --batched)')
    parser.add_argument('--num-images', type=int, default=256,
                        help='generated images (one epoch)')
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2],
                        help='data-loader worker counts')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='default: 32, 64 with --batched')
    parser.add_argument('--batched', action='store_true',
                        help='compare each pipeline with its batched path '
                        '(BatchViewAugmentor on --device), in image pairs/s')
    parser.add_argument('--size', type=int, default=None,
                        help="views' RandomResizedCrop size (default: the "
                        "pipeline's, 224 for the DA pipelines)")
    parser.add_argument('--src-size', type=int, default=None,
                        help='generate square images of this size; with '
                        '--batched the workers then only decode and the crop '
                        'runs batched too')
    parser.add_argument('--approx', action='store_true',
                        help='with --batched, also time the augmentor with '
                        'exact=False (same parameters, cheaper float kernels)')
    parser.add_argument('--device', default='cpu',
                        help='device of the batched augmentor')
    parser.add_argument('--repeats', type=int, default=1,
                        help='timed epochs per cell (median reported)')
    parser.add_argument('--image-dir', default=None,
                        help='use these images instead of generated ones')
    parser.add_argument('--min-size', type=int, default=256)
    parser.add_argument('--max-size', type=int, default=500)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the report as JSON')
    args = parser.parse_args(argv)
    if args.pipelines is None:
        args.pipelines = ['byol_pipeline'] if args.batched else list(
            DA_PIPELINES)
    if args.batch_size is None:
        args.batch_size = 64 if args.batched else 32
    if args.src_size is not None:
        args.min_size = args.max_size = args.src_size
    if args.size is not None and args.size < 1:
        parser.error('--size must be >= 1')
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


def set_crop_size(pipeline, size):
    """The pipeline with every RandomResizedCrop's ``scale`` set to ``size``
    (inside MultiView / RandomApply too)."""
    import copy
    pipeline = copy.deepcopy(pipeline)

    def visit(obj):
        if isinstance(obj, dict):
            if obj.get('type') == 'RandomResizedCrop':
                obj['scale'] = size
            for v in obj.values():
                visit(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                visit(v)

    if size is not None:
        visit(pipeline)
    return pipeline


def build_loader(pipeline, image_dir, workers, args):
    from mmengine.runner import Runner
    return Runner.build_dataloader(
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


def time_cell(pipeline, image_dir, workers, args) -> dict:
    loader = build_loader(pipeline, image_dir, workers, args)
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


def time_batched_cell(pipeline, augmentor, image_dir, workers, args) -> dict:
    """Pairs/s of the worker pipeline followed by the augmentor on each batch
    (synchronised), and the augmentor's share."""
    import torch
    device = torch.device(args.device)
    loader = build_loader(pipeline, image_dir, workers, args)
    num = len(loader.dataset)

    def epoch():
        t0 = time.perf_counter()
        seen, aug_time = 0, 0.
        for batch in loader:
            t1 = time.perf_counter()
            views = augmentor(batch, True)['inputs']
            bu.synchronize(device)
            aug_time += time.perf_counter() - t1
            seen += views[0].shape[0]
        return time.perf_counter() - t0, seen, aug_time

    epoch()  # untimed: worker start-up, page cache, lazy init, kernels
    times, aug_times = [], []
    for _ in range(args.repeats):
        t, seen, aug_t = epoch()
        if seen != num:
            raise RuntimeError(f'the loader yielded {seen} of {num} images')
        times.append(t)
        aug_times.append(aug_t)
    del loader
    t = bu.summarize(times)
    aug = bu.summarize(aug_times)
    batches = -(-num // args.batch_size)
    return dict(
        workers=workers,
        images=num,
        epoch_time=t,
        images_per_s=num / t['median'],
        ms_per_image=t['median'] * 1e3 / num,
        augment_time=aug,
        augment_ms_per_batch=aug['median'] * 1e3 / batches,
        loader_images_per_s=num / max(t['median'] - aug['median'], 1e-9))


def batched_paths(pipeline, args, exact=True):
    """(worker pipeline, BatchViewAugmentor) of a per-image pipeline."""
    import torch
    from mmfa.models.data_preprocessors import split_multiview_pipeline
    from mmfa.registry import MODELS
    worker_types = () if args.src_size else ('RandomResizedCrop',
                                             'RandomFlip')
    workers, views = split_multiview_pipeline(pipeline, worker_types)
    augmentor = MODELS.build(
        dict(type='BatchViewAugmentor', views=views,
             mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
             to_rgb=True, exact=exact))
    return workers, augmentor.to(torch.device(args.device))


def format_batched_report(report: dict) -> str:
    s, m = report['settings'], report['machine']
    workers = s['workers']
    header = ['pipeline', 'path'] + [f'{w} workers pairs/s' for w in workers]
    rows = []
    for res in report['results']:
        cells = {c['workers']: c for c in res['cells']}
        rows.append([res['pipeline'], 'per-image'] + [
            f"{cells[w]['per_image']['images_per_s']:.1f}" for w in workers])
        rows.append([res['pipeline'], f"batched ({s['device']})"] + [
            f"{cells[w]['batched']['images_per_s']:.1f}" for w in workers])
        rows.append([res['pipeline'], 'ratio batched / per-image'] +
                    [f"{cells[w]['ratio']:.2f}x" for w in workers])
        if 'batched_approx' in cells[workers[0]]:
            rows.append([res['pipeline'], f"batched exact=False ({s['device']})"]
                        + [f"{cells[w]['batched_approx']['images_per_s']:.1f}"
                           for w in workers])
            rows.append(
                [res['pipeline'], 'ratio batched exact=False / per-image'] +
                [f"{cells[w]['ratio_approx']:.2f}x" for w in workers])
    src = (f"{s['src_size']} px" if s['src_size'] else
           f"{s['min_size']}-{s['max_size']} px")
    title = (f"{s['num_images']} generated JPEGs ({src}), views "
             f"{s['size'] or 'as configured'}, batch {s['batch_size']}, "
             f"{m['cpu']} ({m['cpu_affinity']} usable cores), median of "
             f"{s['repeats']} epoch(s) after a warm-up epoch")
    lines = [title, '', bu.markdown_table(header, rows), '']
    for res in report['results']:
        for c in res['cells']:
            for key, what in (('batched', 'augmentor'),
                              ('batched_approx', 'augmentor exact=False')):
                if key not in c:
                    continue
                b = c[key]
                lines.append(
                    f"{res['pipeline']}, {c['workers']} workers: {what} "
                    f"{b['augment_ms_per_batch']:.1f} ms / batch on "
                    f"{s['device']}, workers alone "
                    f"{b['loader_images_per_s']:.1f} pairs/s")
    return '\n'.join(lines)


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

    pipelines = [(name, set_crop_size(p, args.size))
                 for name, p in load_pipelines(args)]
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
        if args.batched:
            workers_pipeline, augmentor = batched_paths(pipeline, args)
            approx = (batched_paths(pipeline, args, exact=False)[1]
                      if args.approx else None)
        for w in args.workers:
            cell = time_cell(pipeline, image_dir, w, args)
            print(f'{name} workers={w}: {cell["images_per_s"]:.1f} img/s',
                  file=sys.stderr, flush=True)
            if args.batched:
                batched = time_batched_cell(workers_pipeline, augmentor,
                                            image_dir, w, args)
                print(f'{name} batched workers={w}: '
                      f'{batched["images_per_s"]:.1f} pairs/s',
                      file=sys.stderr, flush=True)
                cell = dict(workers=w, per_image=cell, batched=batched,
                            ratio=batched['images_per_s'] /
                            cell['images_per_s'])
                if approx is not None:
                    fast = time_batched_cell(workers_pipeline, approx,
                                             image_dir, w, args)
                    cell.update(batched_approx=fast,
                                ratio_approx=fast['images_per_s'] /
                                cell['per_image']['images_per_s'])
            cells.append(cell)
        results.append(dict(pipeline=name, cells=cells))
    report = dict(
        tool='benchmark_pipeline',
        mode='batched' if args.batched else 'per-image',
        machine=bu.machine_info(torch.device(args.device if args.batched
                                             else 'cpu')),
        settings=dict(
            num_images=args.num_images,
            min_size=args.min_size,
            max_size=args.max_size,
            batch_size=args.batch_size,
            workers=args.workers,
            repeats=args.repeats,
            image_dir=args.image_dir,
            size=args.size,
            src_size=args.src_size,
            approx=bool(args.approx and args.batched),
            device=args.device if args.batched else None),
        results=results)
    print(format_batched_report(report) if args.batched else
          format_report(report))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    if tmp is not None:
        tmp.cleanup()
    return report


if __name__ == '__main__':
    main()
