# Copyright (c) mmfa contributors. All rights reserved.
"""Throughput (images/s) of the data-augmentation pipelines per data-loader worker
count, on generated JPEGs.

The DA settings of Zhang et al., "Feature Augmentation for Self-supervised
Contrastive Learning: A Closer Look" (arXiv:2410.12396, Table III) differ in their
blur and solarisation, whose cost on the CPU decides how many loader workers a GPU
needs. By default this tool times the four two-view pipelines of
``configs/_base_/datasets/imagenet1k_byol-aug.py`` (``byol_pipeline``,
``symm_weak_pipeline``, ``symm_strong_pipeline``, ``asymm_strong_pipeline``); with
``--configs`` it times the training pipelines of those configs instead (of a
batched-path config, whose workers only decode, its per-image equivalent, as the
``per-image`` variant of ``--train`` builds it).

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

``--train CONFIG`` measures what the paths do to training: it trains the config for
``--epochs`` epochs in each of four variants, as separate ``tools/train.py``
processes with this interpreter, in ``--rounds`` rounds (variant order rotated per
round), and reports the median per-iteration ``time`` of the Runner's json log over
epochs >= 2 (the first epoch is warm-up), in ms/it, it/s and as ratios against
``per-image`` (overall and per round, paired). The variants (:func:`train_variant`):

- ``per-image``: mmpretrain's way, the views made image by image in
  ``--per-image-workers`` loader workers (``MultiView``), the model's plain
  ``SelfSupDataPreprocessor``;
- ``device``: one worker decodes, ``BatchViewAugmentor(views=...)`` makes the views
  in the training process;
- ``workers``: one worker decodes and makes the views (``batch_view_collate``), the
  model's ``BatchViewAugmentor(views=None)`` only normalises;
- ``workers+cl``: as ``workers``, the views channels-last.

The config gives its views either as ``model.data_preprocessor.views`` or as
``train_dataloader.collate_fn.views``. Its kNN monitor hook is removed, the
checkpoint is saved at the end only, every iteration is logged unsmoothed, and each
run works in a temporary folder that is deleted afterwards. The training process
gets ``--threads`` (default: all cores) math threads less one per loader worker
that makes views (at least one; ``device``'s worker only decodes): more threads
than free cores slow small convolutions badly, so measure on an idle machine.

Examples::

    python tools/analysis_tools/benchmark_pipeline.py --num-images 512 \\
        --workers 0 1 2 4 --out work_dirs/bench_pipeline.json
    # ImageNet-like: 224 px views of 256-500 px JPEGs, batch 64
    python tools/analysis_tools/benchmark_pipeline.py --batched --device cuda
    # quickstart-like: 64 px sources, 32 px views, no crop in the workers
    python tools/analysis_tools/benchmark_pipeline.py --batched --configs \\
        configs/quickstart/parallel-predictor_resnet18-w16_1xb64-coslr-45e_shapes.py \\
        --size 32 --src-size 64
    # quickstart training, four variants, two rounds
    python tools/analysis_tools/benchmark_pipeline.py --train \\
        configs/quickstart/parallel-predictor_resnet18-w16_1xb64-coslr-45e_shapes.py \\
        --out work_dirs/bench_train_paths.json
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
from mmengine.config import DictAction  # noqa: E402

ROOT = osp.dirname(osp.dirname(_HERE))
DA_CONFIG = osp.join(ROOT, 'configs', '_base_', 'datasets',
                     'imagenet1k_byol-aug.py')
DA_PIPELINES = ('byol_pipeline', 'symm_weak_pipeline', 'symm_strong_pipeline',
                'asymm_strong_pipeline')
TRAIN_VARIANTS = ('per-image', 'device', 'workers', 'workers+cl')
#: Options of the batched views shared by BatchViewAugmentor and
#: batch_view_collate; with the views and channels_last, the keys that
#: SelfSupDataPreprocessor does not take.
VIEW_OPTIONS = ('exact', 'uint8_rounding', 'cpu_chunk_values')
AUGMENTOR_ONLY = VIEW_OPTIONS + ('views', 'channels_last')


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
    train = parser.add_argument_group(
        '--train', 'training time per data path (see the module docstring)')
    train.add_argument('--train', metavar='CONFIG', default=None,
                       help='train this batched-path config in each variant')
    train.add_argument('--variants', nargs='+', choices=TRAIN_VARIANTS,
                       default=list(TRAIN_VARIANTS),
                       help='variants to train (default: all; the ratios are '
                       'against per-image, else the first one)')
    train.add_argument('--epochs', type=int, default=4,
                       help='epochs per run; epochs >= 2 are measured')
    train.add_argument('--rounds', type=int, default=2,
                       help='rounds of all variants, order rotated per round')
    train.add_argument('--threads', type=int, default=None,
                       help='CPU cores for the math threads (default: '
                       'os.cpu_count())')
    train.add_argument('--per-image-workers', type=int, default=2,
                       help='loader workers of the per-image variant')
    train.add_argument('--cfg-options', nargs='+', action=DictAction,
                       default=None,
                       help='override keys of the --train config in every '
                       'variant, e.g. train_dataloader.dataset.data_root=DIR')
    args = parser.parse_args(argv)
    if args.train is not None:
        if args.batched or args.configs:
            parser.error('--train cannot be combined with --batched or '
                         '--configs')
        if args.epochs < 2 or args.rounds < 1:
            parser.error('--train needs --epochs >= 2 (the first is warm-up) '
                         'and --rounds >= 1')
        if (args.threads is not None and args.threads < 1) or \
                args.per_image_workers < 0:
            parser.error('--threads must be >= 1 and --per-image-workers >= 0')
        if len(set(args.variants)) != len(args.variants):
            parser.error('--variants lists a variant twice')
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
            if not any(_type_name(t) == 'MultiView' for t in pipeline):
                # a batched-path config: time its per-image equivalent
                views, _ = config_views(cfg)
                notes = set()
                pipeline = per_image_pipeline(pipeline,
                                              per_image_views(views, notes))
                for note in sorted(notes):
                    print(f'note: {note}', file=sys.stderr, flush=True)
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

# --------------------------------------------------------------------------- #
# --train: the quickstart-style training step, per data path                  #
# --------------------------------------------------------------------------- #
def _type_name(cfg) -> str:
    """A transform / module config's type without its scope prefix."""
    return str(cfg.get('type', '')).split('.')[-1] if cfg else ''


def config_views(cfg) -> tuple:
    """The views of a batched-path config and their options.

    Args:
        cfg (mmengine.Config): A config with the views in
            ``model.data_preprocessor.views`` (``BatchViewAugmentor``) or in
            ``train_dataloader.collate_fn.views`` (``batch_view_collate``).

    Returns:
        tuple: ``views`` (one transform list per view, plain dicts) and the
        ``VIEW_OPTIONS`` the config sets for them.
    """
    import copy
    pre = cfg.get('model', {}).get('data_preprocessor') or {}
    collate = cfg.get('train_dataloader', {}).get('collate_fn') or {}
    if _type_name(pre) == 'BatchViewAugmentor' and pre.get('views'):
        src = pre
    elif _type_name(collate) == 'batch_view_collate' and collate.get('views'):
        src = collate
    else:
        raise SystemExit(
            f'benchmark_pipeline.py: {cfg.filename} defines no views: give them '
            'as model.data_preprocessor.views (BatchViewAugmentor) or '
            'train_dataloader.collate_fn.views (mmfa.batch_view_collate), as '
            'configs/quickstart/_base_/shapes_pretrain.py does.')
    views = [[_plain(t) for t in view] for view in src['views']]
    options = {k: copy.deepcopy(src[k]) for k in VIEW_OPTIONS if k in src}
    return views, options


def _plain(obj):
    """ConfigDicts / tuples of a config as plain dicts and lists."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def per_image_views(views, notes=None) -> list:
    """The views with mmpretrain's per-image transforms.

    Two ``ColorJitter`` arguments are mmfa extensions of the batched path:
    ``hue_space`` is dropped (the per-image transform rotates hue in HSV; a
    note is added to ``notes``) and ``prob=p`` becomes ``RandomApply(prob=p)``.
    Any other argument the per-image transform does not take is an error.

    Args:
        views (list[list[dict]]): One transform list per view.
        notes (set, optional): Collects the notes to print.

    Returns:
        list[list[dict]]: The converted views (new objects).
    """
    import inspect

    import mmpretrain.datasets  # noqa: F401  (registers the transforms)
    from mmpretrain.registry import TRANSFORMS
    notes = set() if notes is None else notes

    def check(t):
        cls = TRANSFORMS.get(t['type'])
        if cls is None:
            raise SystemExit(f"benchmark_pipeline.py: {t['type']} is not a "
                             'per-image transform of mmpretrain / mmcv.')
        params = inspect.signature(cls.__init__).parameters
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return
        unknown = sorted(set(t) - set(params) - {'type'})
        if unknown:
            raise SystemExit(
                f"benchmark_pipeline.py: {t['type']} argument(s) {unknown} have "
                'no per-image equivalent in mmpretrain; drop them from the '
                'views to benchmark the per-image path.')

    def convert(t):
        t = dict(t)
        name = _type_name(t)
        if name == 'RandomApply':
            t['transforms'] = [convert(x) for x in t['transforms']]
        elif name == 'ColorJitter':
            space = t.pop('hue_space', 'hsv')
            if space != 'hsv':
                notes.add(f"per-image: ColorJitter(hue_space={space!r}) "
                          'dropped, the per-image path jitters hue in HSV')
            prob = t.pop('prob', None)
            if prob is not None:
                check(t)
                return dict(type='RandomApply', transforms=[t], prob=prob)
        check(t)
        return t

    return [[convert(t) for t in view] for view in views]


def per_image_pipeline(pipeline, views) -> list:
    """The per-image pipeline of a batched-path worker pipeline and its views:
    one ``MultiView`` of the views before ``PackInputs``; per-view transforms
    of an existing ``MultiView`` (crop / flip in the workers) go first."""
    pipeline = [_plain(t) for t in pipeline]
    mv_idx = [i for i, t in enumerate(pipeline)
              if _type_name(t) == 'MultiView']
    if mv_idx:
        mv = pipeline[mv_idx[0]]
        num = mv['num_views']
        num = [num] * len(mv['transforms']) if isinstance(num, int) else num
        first = [list(ts) for ts, k in zip(mv['transforms'], num)
                 for _ in range(k)]
        if len(first) != len(views):
            raise SystemExit(
                f'benchmark_pipeline.py: the pipeline\'s MultiView makes '
                f'{len(first)} views but {len(views)} views are configured.')
        views = [a + b for a, b in zip(first, views)]
        del pipeline[mv_idx[0]]
        at = mv_idx[0]
    else:
        packs = [i for i, t in enumerate(pipeline)
                 if _type_name(t) == 'PackInputs']
        if not packs:
            raise SystemExit('benchmark_pipeline.py: the training pipeline has '
                             'no PackInputs to put the views before.')
        at = packs[0]
    multiview = dict(type='MultiView', num_views=[1] * len(views),
                     transforms=views)
    return pipeline[:at] + [multiview] + pipeline[at:]


def thread_env(threads: int) -> dict:
    """The math-thread environment of a training subprocess."""
    return dict(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


def train_variant(cfg, variant: str, epochs: int, threads: int,
                  per_image_workers: int = 2, notes=None) -> tuple:
    """The training config and thread environment of one ``--train`` variant.

    Args:
        cfg (mmengine.Config): The batched-path config (not modified).
        variant (str): One of :data:`TRAIN_VARIANTS`.
        epochs (int): Training epochs.
        threads (int): CPU cores for the math threads: ``device`` uses them
            all (its worker only decodes); ``per-image`` and ``workers*``
            leave one per worker that makes views (at least one thread).
        per_image_workers (int): Loader workers of ``per-image``.
        notes (set, optional): Collects notes on the conversion.

    Returns:
        tuple: The config (a copy) and the environment variables to set.
    """
    import copy
    if variant not in TRAIN_VARIANTS:
        raise ValueError(f'unknown variant {variant!r}; valid: '
                         f'{list(TRAIN_VARIANTS)}')
    views, options = config_views(cfg)
    if 'max_epochs' not in cfg.get('train_cfg', {}):
        raise SystemExit(f'benchmark_pipeline.py: {cfg.filename}: --train needs '
                         'an epoch-based train_cfg (with max_epochs).')
    cfg = copy.deepcopy(cfg)
    cfg.train_cfg.max_epochs = epochs
    # epoch-based schedulers that would begin at or after the end of the short
    # run (mmengine rejects the then empty range); the lr does not change the
    # time of a step
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    cfg.param_scheduler = [
        s for s in schedulers
        if not (s.get('by_epoch', True) and s.get('begin', 0) >= epochs)
    ]
    # one checkpoint, at the end; every iteration's own time in the json log
    # (LogProcessor averages `time` over window_size iterations)
    cfg.merge_from_dict(dict(default_hooks=dict(
        checkpoint=dict(interval=epochs, max_keep_ckpts=1),
        logger=dict(interval=1))))
    cfg.log_processor = dict(cfg.get('log_processor', {}), window_size=1)
    # the kNN monitor evaluates on other loaders, outside the measured step
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if _type_name(h) != 'KNNMonitorHook']

    pre = {k: v for k, v in cfg.model.data_preprocessor.items()
           if k not in AUGMENTOR_ONLY and k != 'type'}
    loader = cfg.train_dataloader
    pipeline = loader.dataset.pipeline
    if variant == 'per-image':
        loader.dataset.pipeline = per_image_pipeline(
            pipeline, per_image_views(views, notes))
        loader.collate_fn = dict(type='default_collate')
        # the first quickstart's setting: the workers that make the views
        # keep their cores, as for the workers variants
        workers = per_image_workers
        math_threads = max(1, threads - per_image_workers)
        cfg.model.data_preprocessor = dict(type='SelfSupDataPreprocessor',
                                           **pre)
    elif variant == 'device':
        loader.collate_fn = dict(type='default_collate')
        workers, math_threads = 1, threads
        cfg.model.data_preprocessor = dict(
            type='BatchViewAugmentor', views=views, channels_last=False,
            **options, **pre)
    else:
        loader.collate_fn = dict(type='mmfa.batch_view_collate', views=views,
                                 **options)
        workers, math_threads = 1, max(1, threads - 1)
        cfg.model.data_preprocessor = dict(
            type='BatchViewAugmentor', views=None,
            channels_last=variant == 'workers+cl', **pre)
    loader.num_workers = workers
    loader.persistent_workers = workers > 0
    return cfg, thread_env(math_threads)


def describe_run_config(cfg) -> dict:
    """What decides a variant's data path, from a (built or dumped) config."""
    loader = cfg.train_dataloader
    pre = cfg.model.data_preprocessor
    pipeline = loader.dataset.pipeline
    multiview = [t for t in pipeline if _type_name(t) == 'MultiView']
    collate = loader.get('collate_fn') or {}
    return dict(
        pipeline=[_type_name(t) for t in pipeline],
        view_transforms=[[_type_name(t) for t in v]
                         for v in (multiview[0]['transforms']
                                   if multiview else [])],
        collate_fn=_type_name(collate),
        collate_views=len(collate.get('views') or []),
        preprocessor=_type_name(pre),
        preprocessor_views=len(pre.get('views') or []),
        channels_last=bool(pre.get('channels_last', False)),
        num_workers=loader.get('num_workers', 0))


def _read_scalars(work_dir: str) -> list:
    import glob
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not logs:
        raise RuntimeError(f'no vis_data/scalars.json under {work_dir}')
    with open(logs[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_train_variant(cfg, env: dict, label: str, first_epoch: int = 2) -> dict:
    """Train ``cfg`` with ``tools/train.py`` in a subprocess of this interpreter,
    in a temporary folder deleted afterwards; the per-iteration times of the
    epochs >= ``first_epoch``. Exits with the run's last log lines if it
    fails."""
    import shutil
    import subprocess

    from mmengine.config import Config
    tmp = tempfile.mkdtemp(prefix='mmfa_bench_train_')
    try:
        cfg_path = osp.join(tmp, 'config.py')
        cfg.dump(cfg_path)
        work_dir = osp.join(tmp, 'work')
        cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg_path,
               '--work-dir', work_dir]
        full_env = dict(os.environ, **env)
        full_env['PYTHONPATH'] = ROOT + os.pathsep + os.environ.get(
            'PYTHONPATH', '')
        log_path = osp.join(tmp, 'train.log')
        t0 = time.perf_counter()
        with open(log_path, 'w') as log:
            proc = subprocess.run(cmd, env=full_env, stdout=log,
                                  stderr=subprocess.STDOUT)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            with open(log_path, errors='replace') as f:
                tail = ''.join(f.readlines()[-30:])
            raise SystemExit(
                f'benchmark_pipeline.py: the {label} run failed (exit '
                f'{proc.returncode}): {" ".join(cmd)}\n{tail}')
        records = [r for r in _read_scalars(work_dir) if 'time' in r]
        # the Runner dumps the config it ran under the config's file name
        ran = describe_run_config(Config.fromfile(osp.join(work_dir,
                                                           'config.py')))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    times = [r['time'] for r in records if r.get('epoch', 0) >= first_epoch]
    if not times:
        raise SystemExit(f'benchmark_pipeline.py: the {label} run logged no '
                         f'iteration of epoch >= {first_epoch}.')
    data_times = [r['data_time'] for r in records
                  if r.get('epoch', 0) >= first_epoch and 'data_time' in r]
    t = bu.summarize(times)
    return dict(
        ms_per_iter=t['median'] * 1e3,
        iterations=len(times),
        time=t,
        data_time=bu.summarize(data_times),
        wall_s=wall,
        ran=ran)


def round_order(variants, r: int) -> list:
    """The variants in round ``r`` (from 0): rotated by ``r``, so that each
    variant runs early and late (page cache, thermal state, other load)."""
    n = len(variants)
    return list(variants[r % n:]) + list(variants[:r % n])


def run_train_mode(args) -> dict:
    """``--train``: every variant in every round, ratios against the baseline."""
    import torch
    from mmengine.config import Config
    if not osp.isfile(args.train):
        raise SystemExit(f'benchmark_pipeline.py: config not found: '
                         f'{args.train}')
    cfg = Config.fromfile(args.train)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    threads = args.threads or os.cpu_count() or 1
    notes = set()
    built = {
        v: train_variant(cfg, v, args.epochs, threads, args.per_image_workers,
                         notes)
        for v in args.variants
    }
    for note in sorted(notes):
        print(f'note: {note}', file=sys.stderr, flush=True)
    runs = {v: [] for v in args.variants}
    for r in range(args.rounds):
        for pos, v in enumerate(round_order(args.variants, r)):
            print(f'round {r + 1}/{args.rounds}: training {v} '
                  f'({args.epochs} epochs) ...', file=sys.stderr, flush=True)
            res = run_train_variant(*built[v], label=f'{v} (round {r + 1})')
            res.update(round=r + 1, position=pos)
            runs[v].append(res)
            print(f'round {r + 1}/{args.rounds}: {v} '
                  f'{res["ms_per_iter"]:.1f} ms/it', file=sys.stderr,
                  flush=True)
    baseline = 'per-image' if 'per-image' in runs else args.variants[0]
    base_ms = [x['ms_per_iter'] for x in runs[baseline]]
    results = []
    for v in args.variants:
        ms = [x['ms_per_iter'] for x in runs[v]]
        median = bu.summarize(ms)['median']
        results.append(dict(
            variant=v,
            env=built[v][1],
            config=describe_run_config(built[v][0]),
            rounds=runs[v],
            ms_per_iter=median,
            it_per_s=1e3 / median,
            ratio=bu.summarize(base_ms)['median'] / median,
            round_ratios=[b / m for b, m in zip(base_ms, ms)]))
    return dict(
        tool='benchmark_pipeline',
        mode='train',
        machine=bu.machine_info(torch.device('cpu')),
        settings=dict(
            config=args.train,
            cfg_options=_plain(dict(args.cfg_options or {})),
            variants=list(args.variants),
            epochs=args.epochs,
            measured_epochs=[2, args.epochs],
            rounds=args.rounds,
            threads=threads,
            per_image_workers=args.per_image_workers,
            batch_size=cfg.train_dataloader.batch_size,
            notes=sorted(notes)),
        baseline=baseline,
        results=results)


def format_train_report(report: dict) -> str:
    s, m = report['settings'], report['machine']
    base = report['baseline']
    rounds = s['rounds']
    header = (['variant', 'workers', 'threads'] +
              [f'round {r + 1} ms/it' for r in range(rounds)] +
              ['median ms/it', 'it/s', f'vs {base}', 'per round'])
    rows = []
    for res in report['results']:
        rows.append(
            [res['variant'], res['config']['num_workers'],
             res['env']['OMP_NUM_THREADS']] +
            [f"{x['ms_per_iter']:.1f}" for x in res['rounds']] +
            [f"{res['ms_per_iter']:.1f}", f"{res['it_per_s']:.2f}",
             f"{res['ratio']:.2f}x",
             ', '.join(f'{q:.2f}x' for q in res['round_ratios'])])
    title = (f"{osp.basename(s['config'])}: batch {s['batch_size']}, "
             f"{s['epochs']} epochs per run, median `time` of the iterations "
             f"of epochs 2-{s['epochs']}, {rounds} round(s) (order rotated), "
             f"{m['cpu']} ({m['cpu_count']} cores); ratio = {base} ms/it / "
             'variant ms/it')
    lines = [title, '', bu.markdown_table(header, rows)]
    for note in s['notes']:
        lines.append(f'note: {note}')
    return '\n'.join(lines)


def write_json(report: dict, path) -> None:
    if path:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(report, f, indent=2)


def main(argv=None):
    args = parse_args(argv)
    if args.train is not None:
        report = run_train_mode(args)
        print(format_train_report(report))
        write_json(report, args.out)
        return report
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
    write_json(report, args.out)
    if tmp is not None:
        tmp.cleanup()
    return report


if __name__ == '__main__':
    main()
