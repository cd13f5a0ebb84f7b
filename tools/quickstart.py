# Copyright (c) mmfa contributors. All rights reserved.
"""mmfa's main job, offline on a CPU: the whole method on generated data.

1. Generates the shapes data set (class = shape; colour, position, scale and rotation
   vary) in the ImageNet-style and VOC-style layouts.
2. Reference rows: kNN on the raw pixels, a randomly initialised backbone, and a
   supervised backbone trained on the same images for about a pre-training's time.
3. Pre-trains a small ResNet-18 in the paper's Parallel-predictor layout without FA
   (baseline) and with FA (Mask, NN by default), ``tools/train.py`` each, with an
   online kNN monitor (``KNNMonitorHook``); ``--seeds N`` repeats every method.
4. Evaluates every backbone by weighted kNN and a linear probe, and fine-tunes a
   Faster R-CNN from it on the VOC-style set (AP, AP50, AP75).
5. Writes ``results.md`` / ``results.json`` and plots (kNN top-1 over epochs,
   pre-training loss, results with error bars over seeds, 2-D embeddings).

Usage::

    python tools/quickstart.py [--work-dir work_dirs/quickstart] [--seeds 3]
    python tools/quickstart.py --tiny      # a reduced run (about a minute), as CI runs it
    python tools/quickstart.py --device cuda   # the GPU preset (more data, longer)
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
QS = 'configs/quickstart'
PRETRAIN = {
    'baseline': 'parallel-predictor_resnet18-w16_1xb64-coslr-45e_shapes.py',
    'mask': 'parallel-predictor-mask_resnet18-w16_1xb64-coslr-45e_shapes.py',
    'nn': 'parallel-predictor-nn_resnet18-w16_1xb64-coslr-45e_shapes.py',
}
LINEAR = f'{QS}/linear_resnet18-w16_1xb64-coslr-10e_shapes.py'
SUPERVISED = f'{QS}/supervised_resnet18-w16_1xb64-coslr-20e_shapes.py'
DET = f'{QS}/faster-rcnn_resnet18-w16-dc5_1xb4-300it_shapes-voc.py'
REFERENCES = ('raw pixels', 'random init', 'supervised')
# Sizes: the CPU run (the README's main job), --tiny (CI) and the GPU preset.
SIZES = {
    'cpu': dict(num_train=1800, num_val=360, det_trainval=150, det_test=50,
                pretrain_epochs=45, knn_interval=5, linear_epochs=8,
                sup_epochs=20, det_iters=60),
    'tiny': dict(num_train=96, num_val=36, det_trainval=12, det_test=6,
                 pretrain_epochs=3, knn_interval=1, linear_epochs=1,
                 sup_epochs=1, det_iters=4),
    # Sized for ~10 minutes on one GPU (an estimate: not measured yet): 2.5x the
    # images, longer schedules, 4x the detection data and 5x its iterations.
    'gpu': dict(num_train=4500, num_val=900, det_trainval=600, det_test=200,
                pretrain_epochs=60, knn_interval=5, linear_epochs=10,
                sup_epochs=40, det_iters=1000),
}
METRICS = ('knn_top1', 'linear_top1', 'AP', 'AP50', 'AP75')
HEADS = ('kNN top-1', 'linear top-1', 'AP', 'AP50', 'AP75')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/quickstart')
    parser.add_argument('--data-root', default='data/shapes')
    parser.add_argument(
        '--methods',
        nargs='+',
        default=list(PRETRAIN),
        choices=list(PRETRAIN),
        help='pre-training runs (default: all)')
    parser.add_argument(
        '--variant',
        default='clean',
        choices=['clean', 'hard'],
        help="generated data: 'clean' (solid backgrounds, no noise, large "
        "objects; default) or 'hard' (textures, noise, smaller objects)")
    parser.add_argument(
        '--tiny', action='store_true', help='a reduced run (CI, smoke test)')
    parser.add_argument(
        '--device',
        choices=['auto', 'cpu', 'cuda'],
        default='auto',
        help='cuda (or auto with a GPU visible) uses the GPU preset')
    parser.add_argument(
        '--skip-det', action='store_true', help='skip the detection transfer')
    parser.add_argument(
        '--no-references',
        action='store_true',
        help='skip the reference rows (raw pixels, random init, supervised)')
    parser.add_argument(
        '--pretrain-epochs',
        type=int,
        help='pre-training epochs, >= 3 (default: 45, 2 with --tiny)')
    parser.add_argument(
        '--jobs',
        type=int,
        default=None,
        help='rows to run at the same time (each row is a chain of tool '
        'processes; default 1, 2 with --tiny, whose short runs are bound by '
        'the processes\' start-up)')
    parser.add_argument('--seed', type=int, default=0, help='first seed')
    parser.add_argument(
        '--seeds',
        type=int,
        default=1,
        help='pre-train and evaluate every method with this many seeds '
        '(seed, seed + 1, ...); results.md reports mean +- std')
    return parser.parse_args(argv)


def banner(text):
    print(f'\n{"=" * 78}\n[quickstart] {text}\n{"=" * 78}', flush=True)


def tool_env(threads):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    # The tools' math threads: on a small CPU more threads than cores beside the
    # data-loader workers make small convolutions much slower.
    env.setdefault('OMP_NUM_THREADS', str(threads))
    env.setdefault('MKL_NUM_THREADS', str(threads))
    return env


def run(args, log_file, threads=1):
    """Run a tool with this interpreter, streaming its progress; fail loudly."""
    cmd = [sys.executable] + args
    print('[quickstart] $ ' + ' '.join(cmd), flush=True)
    os.makedirs(osp.dirname(log_file), exist_ok=True)
    with open(log_file, 'w') as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=tool_env(threads),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True)
        for line in proc.stdout:
            log.write(line)
            # The Runner's progress lines (with ETA) and results; not the env dump.
            if ('Epoch(' in line or 'Iter(' in line or 'kNN' in line
                    or 'top1' in line or 'Error' in line or 'error:' in line):
                print('   ' + line.rstrip(), flush=True)
        proc.wait()
    if proc.returncode != 0:
        with open(log_file) as f:
            tail = f.read()[-3000:]
        raise SystemExit(f'[quickstart] failed ({proc.returncode}): '
                         f'{" ".join(cmd)}\n{tail}\nfull log: {log_file}')


def json_records(work_dir):
    """The records of the newest mmengine json log of a work dir."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', '*.json')))
    logs = [p for p in logs if not p.endswith('scalars.json')] or logs
    if not logs:
        raise SystemExit(f'[quickstart] no json log under {work_dir}')
    with open(logs[-1]) as f:
        return logs[-1], [json.loads(line) for line in f if line.strip()]


def latest_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


class Stages:
    """The evaluation stages shared by every row (pre-trained or reference)."""

    def __init__(self, args, size, cls_root, voc_root, threads):
        self.args, self.size, self.threads = args, size, threads
        self.cls_root, self.voc_root = cls_root, voc_root
        self.data_opts = [
            f'{loader}.dataset.data_root={cls_root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')
        ]

    def knn(self, ckpt, out_dir):
        knn_dir = osp.join(out_dir, 'knn')
        run([
            'tools/analysis_tools/knn_eval.py', LINEAR, ckpt, '--k', '20',
            '--work-dir', knn_dir, '--cfg-options'
        ] + self.data_opts, osp.join(out_dir, 'knn.log'), self.threads)
        with open(osp.join(knn_dir, 'knn_results.json')) as f:
            return json.load(f)['results']['knn/top1_k20']

    def linear(self, ckpt, out_dir, seed):
        lin_dir = osp.join(out_dir, 'linear')
        epochs = self.size['linear_epochs']
        run([
            'tools/train.py', LINEAR, '--work-dir', lin_dir, '--cfg-options',
            f'model.backbone.init_cfg.checkpoint={ckpt}',
            f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
            f'randomness.seed={seed}'
        ] + self.data_opts, osp.join(out_dir, 'linear.log'), self.threads)
        _, records = json_records(lin_dir)
        return [r['accuracy/top1'] for r in records if 'accuracy/top1' in r][-1]

    def detection(self, ckpt, out_dir, seed):
        det_dir = osp.join(out_dir, 'det')
        iters = self.size['det_iters']
        run([
            'tools/train.py', DET, '--work-dir', det_dir, '--cfg-options',
            f'model.backbone.init_cfg.checkpoint={ckpt}',
            f'train_dataloader.dataset.data_root={self.voc_root}',
            f'val_dataloader.dataset.data_root={self.voc_root}',
            f'test_dataloader.dataset.data_root={self.voc_root}',
            f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'param_scheduler.1.end={iters}',
            f'param_scheduler.1.milestones=[{int(iters * 0.75)}]',
            f'default_hooks.checkpoint.interval={iters}',
            f'randomness.seed={seed}'
        ], osp.join(out_dir, 'det.log'), self.threads)
        _, records = json_records(det_dir)
        det = [r for r in records if 'pascal_voc/AP' in r][-1]
        return dict(
            AP=det['pascal_voc/AP'],
            AP50=det['pascal_voc/AP50'],
            AP75=det['pascal_voc/AP75'])

    def evaluate(self, name, ckpt, out_dir, seed, knn=None):
        """kNN (unless given), linear probe and detection of one backbone."""
        banner(f'evaluating {name}: kNN, linear probe'
               f'{"" if self.args.skip_det else ", detection"}')
        row = dict(checkpoint=ckpt)
        row['knn_top1'] = self.knn(ckpt, out_dir) if knn is None else knn
        row['linear_top1'] = self.linear(ckpt, out_dir, seed)
        if not self.args.skip_det:
            row.update(self.detection(ckpt, out_dir, seed))
        return row


def main(argv=None):
    args = parse_args(argv)
    if args.seeds < 1:
        raise SystemExit('--seeds must be >= 1')
    jobs = args.jobs if args.jobs is not None else 2 if args.tiny else 1
    if jobs < 1:
        raise SystemExit('--jobs must be >= 1')
    import torch
    use_gpu = args.device == 'cuda' or (args.device == 'auto'
                                        and torch.cuda.is_available())
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is visible')
    preset = 'tiny' if args.tiny else 'gpu' if use_gpu else 'cpu'
    size = dict(SIZES[preset])
    if args.pretrain_epochs is not None:
        if args.pretrain_epochs < 3:
            raise SystemExit('--pretrain-epochs must be >= 3 (two warm-up '
                             'epochs, then the cosine schedule)')
        size['pretrain_epochs'] = args.pretrain_epochs
    # Math threads of the tools (more than the cores beside the loader workers
    # make small convolutions much slower). Pre-training's loader worker makes
    # the views (batch_view_collate) on one core while the step runs: the
    # training process leaves it that core.
    cores = os.cpu_count() or 1
    threads = 1 if args.tiny else min(2, cores)
    pretrain_threads = 1 if args.tiny else max(1, min(2, cores - 1))
    work = osp.abspath(args.work_dir)
    data = osp.abspath(args.data_root)
    os.makedirs(work, exist_ok=True)
    start = time.time()
    seeds = [args.seed + i for i in range(args.seeds)]

    banner(f'1/5 data: generated shapes ({args.variant}) -> {data}')
    sys.path.insert(0, ROOT)
    from mmfa.datasets import generate_shapes_cls, generate_shapes_voc
    generate_shapes_cls(
        osp.join(data, 'cls'),
        num_train=size['num_train'],
        num_val=size['num_val'],
        seed=args.seed,
        variant=args.variant)
    generate_shapes_voc(
        osp.join(data, 'voc'),
        num_trainval=size['det_trainval'],
        num_test=size['det_test'],
        seed=args.seed,
        variant=args.variant)
    cls_root = osp.join(data, 'cls') + '/'
    voc_root = osp.join(data, 'voc') + '/'
    stages = Stages(args, size, cls_root, voc_root, threads)

    def untrained_rows():
        banner('2/5 reference rows: raw pixels, random init, supervised')
        refs = {'raw pixels': dict(knn_top1=raw_pixel_knn(cls_root))}
        print(f'[quickstart] raw-pixel kNN top-1: '
              f'{refs["raw pixels"]["knn_top1"]:.1f}', flush=True)
        rand_ckpt = random_init_checkpoint(
            f'{QS}/{PRETRAIN["baseline"]}', cls_root,
            osp.join(work, 'random_init', 'random_init.pth'), args.seed)
        refs['random init'] = stages.evaluate(
            'random init', rand_ckpt, osp.join(work, 'random_init'),
            args.seed)
        return refs

    def supervised_row():
        sup_dir = osp.join(work, 'supervised')
        run([
            'tools/train.py', SUPERVISED, '--work-dir',
            osp.join(sup_dir, 'train'), '--cfg-options',
            f'train_cfg.max_epochs={size["sup_epochs"]}',
            f'train_cfg.val_interval={size["sup_epochs"]}',
            f'default_hooks.checkpoint.interval={size["sup_epochs"]}',
            f'randomness.seed={args.seed}'
        ] + stages.data_opts, osp.join(sup_dir, 'train.log'), threads)
        return {
            'supervised':
            stages.evaluate('supervised',
                            latest_checkpoint(osp.join(sup_dir, 'train')),
                            sup_dir, args.seed)
        }

    def pretrain_and_evaluate(seed, i, method):
        tag = method if len(seeds) == 1 else f'{method}/seed{seed}'
        banner(f'3/5 pre-training {i + 1}/{len(args.methods)}: {method}, '
               f'seed {seed}')
        out = osp.join(work, method if len(seeds) == 1 else
                       osp.join(method, f'seed{seed}'))
        wd = osp.join(out, 'pretrain')
        epochs = size['pretrain_epochs']
        hook = f'custom_hooks.{knn_hook_index(PRETRAIN[method])}'
        knn_opts = [
            f'{hook}.{loader}.dataset.data_root={cls_root}'
            for loader in ('train_dataloader', 'val_dataloader')
        ]
        run([
            'tools/train.py', f'{QS}/{PRETRAIN[method]}', '--work-dir', wd,
            '--cfg-options',
            f'train_dataloader.dataset.data_root={cls_root}',
            f'train_cfg.max_epochs={epochs}',
            f'{hook}.interval={size["knn_interval"]}',
            f'default_hooks.checkpoint.interval={epochs}',
            f'randomness.seed={seed}'
        ] + knn_opts, osp.join(out, 'pretrain.log'), pretrain_threads)
        log, records = json_records(wd)
        curve = [(r['epoch'], r['knn/top1']) for r in records
                 if 'knn/top1' in r]
        loss = [(r['iter'], r['loss']) for r in records if 'loss' in r]
        banner(f'4/5 evaluating {tag}')
        # The monitor's last kNN is knn_eval's protocol on the final weights.
        row = stages.evaluate(tag, latest_checkpoint(wd), out, seed,
                              knn=curve[-1][1] if curve else None)
        row.update(pretrain_log=log, knn_curve=curve, loss_curve=loss)
        return row

    # Each row is a chain of tool processes; with jobs > 1 independent rows
    # overlap (the rows and their numbers do not depend on it).
    # A failed row stops the job: rows not started yet are dropped (a pool
    # thread takes the next row as soon as one ends, before the main thread
    # sees the failure, so each row checks the flag first).
    failed = threading.Event()

    def row(fn, *fn_args):
        if failed.is_set():
            return None
        try:
            return fn(*fn_args)
        except BaseException:
            failed.set()
            raise

    runs = {}  # (method, seed) -> row
    refs = {}  # reference name -> row
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        ref_futures = [] if args.no_references else [
            pool.submit(row, untrained_rows),
            pool.submit(row, supervised_row)
        ]
        futures = {(method, seed): pool.submit(row, pretrain_and_evaluate,
                                               seed, i, method)
                   for seed in seeds
                   for i, method in enumerate(args.methods)}
        for f in ref_futures:
            refs.update(f.result())
        runs = {key: f.result() for key, f in futures.items()}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

    banner('5/5 results')
    write_report(args, size, preset, refs, runs, seeds, work,
                 time.time() - start)


# --------------------------------------------------------------------------- #
# reference rows                                                               #
# --------------------------------------------------------------------------- #
def _load_split(cls_root, split, size=32):
    """A split's images resized to ``size`` as the kNN / linear-probe test
    pipeline does (mmcv Resize, bilinear), RGB uint8, and the labels."""
    import cv2
    import numpy as np
    imgs, labels = [], []
    with open(osp.join(cls_root, 'meta', f'{split}.txt')) as f:
        for line in f:
            if not line.strip():
                continue
            rel, label = line.rsplit(' ', 1)
            img = cv2.imread(osp.join(cls_root, split, rel))
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
            imgs.append(img[..., ::-1])
            labels.append(int(label))
    return np.stack(imgs), np.array(labels)


def _normalised(imgs):
    """(N, 3, H, W) float tensors normalised with the configs' ImageNet mean/std."""
    import torch
    x = torch.from_numpy(imgs.copy()).permute(0, 3, 1, 2).float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    return (x - mean) / std


def raw_pixel_knn(cls_root, k=20, temperature=0.07):
    """kNN top-1 (%) on the normalised 32 px pixels: the same protocol as the
    backbones' kNN (cosine similarity, k=20, T=0.07) with no network at all."""
    import torch
    import torch.nn.functional as F

    from mmfa.evaluation.functional.knn import knn_classify
    (tr, ytr), (va, yva) = (_load_split(cls_root, s) for s in ('train', 'val'))
    ftr = F.normalize(_normalised(tr).flatten(1), dim=1)
    fva = F.normalize(_normalised(va).flatten(1), dim=1)
    scores = knn_classify(ftr, torch.from_numpy(ytr), fva, k=k,
                          T=temperature, num_classes=int(ytr.max()) + 1)
    return float((scores.argmax(1).numpy() == yva).mean() * 100)


def knn_hook_index(config: str) -> int:
    """Position of ``KNNMonitorHook`` in a quickstart config's ``custom_hooks``
    (``--cfg-options`` addresses list items by index)."""
    from mmengine.config import Config
    hooks = Config.fromfile(osp.join(ROOT, QS, config)).get('custom_hooks', [])
    found = [i for i, h in enumerate(hooks) if h.get('type') == 'KNNMonitorHook']
    if len(found) != 1:
        raise SystemExit(f'{config}: expected one KNNMonitorHook in '
                         f'custom_hooks, found {len(found)}.')
    return found[0]


def random_init_checkpoint(config, cls_root, path, seed):
    """A randomly initialised backbone (the pre-training model's own init) whose
    BN statistics are measured on the training images (without them every BN
    would normalise with mean 0 / var 1 and the features would be degenerate)."""
    import logging

    import torch
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope

    import mmfa.models  # noqa: F401
    from mmfa.registry import MODELS
    init_default_scope('mmfa')
    torch.manual_seed(seed)
    backbone = revert_sync_batchnorm(
        MODELS.build(Config.fromfile(config).model.backbone))
    logging.disable(logging.INFO)  # init_weights logs every parameter
    try:
        backbone.init_weights()
    finally:
        logging.disable(logging.NOTSET)
    for m in backbone.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
    imgs, _ = _load_split(cls_root, 'train')
    x = _normalised(imgs)
    backbone.train()
    with torch.no_grad():
        for i in range(0, len(x), 256):
            backbone(x[i:i + 256])
    os.makedirs(osp.dirname(path), exist_ok=True)
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    torch.save(dict(state_dict=state, meta=dict(note='random init')), path)
    print(f'[quickstart] random-init backbone (BN statistics of the training '
          f'images): {path}', flush=True)
    return path


# --------------------------------------------------------------------------- #
# report                                                                       #
# --------------------------------------------------------------------------- #
def _mean_std(values):
    import numpy as np
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 \
        else 0.


def summarise(refs, runs, methods, seeds):
    """Rows of the results table: name -> {metric: (mean, std, n)}."""
    rows = {}
    for name, r in refs.items():
        rows[name] = {m: (r[m], 0., 1) for m in METRICS if m in r}
    for method in methods:
        got = [runs[(method, s)] for s in seeds if (method, s) in runs]
        rows[method] = {
            m: _mean_std([r[m] for r in got]) + (len(got), )
            for m in METRICS if got and all(m in r for r in got)
        }
    return rows


def write_report(args, size, preset, refs, runs, seeds, work, seconds):
    """Print and save the results table, the per-seed numbers and the plots."""
    methods = [m for m in args.methods]
    rows = summarise(refs, runs, methods, seeds)
    lines = ['| row | ' + ' | '.join(HEADS) + ' |', '|---|' + '---|' * 5]
    for name, cells in rows.items():
        text = []
        for m in METRICS:
            if m not in cells:
                text.append('-')
            elif cells[m][2] > 1:
                text.append(f'{cells[m][0]:.1f} ± {cells[m][1]:.1f}')
            else:
                text.append(f'{cells[m][0]:.1f}')
        label = name if name in REFERENCES else f'**{name}**'
        lines.append(f'| {label} | ' + ' | '.join(text) + ' |')
    table = '\n'.join(lines)
    seed_note = (f'{len(seeds)} seeds ({", ".join(map(str, seeds))}), mean ± '
                 'sample std' if len(seeds) > 1 else f'seed {seeds[0]}')
    note = (
        f'mmfa quickstart ({preset} preset, {args.variant} shapes, '
        f'{seed_note}, {seconds / 60:.1f} min). Parallel-predictor ResNet-18 '
        f'(width 16) pre-trained for {size["pretrain_epochs"]} epochs on '
        f'{size["num_train"]} generated 64 px shape images (9 classes, chance '
        '11.1 %), 32 px views; kNN (k=20, T=0.07) and linear probe on the '
        f'{size["num_val"]} validation images; Faster R-CNN fine-tuned on the '
        'VOC-style shapes set (AP over IoU 0.50:0.95, VOC07 11-point). '
        'Reference rows: kNN on the raw normalised pixels; a randomly '
        'initialised backbone (BN statistics of the training images); a '
        f'supervised backbone ({size["sup_epochs"]} epochs with labels).')
    print(table + '\n\n' + note, flush=True)
    plots = make_plots(refs, runs, rows, methods, seeds, work, args)
    with open(osp.join(work, 'results.md'), 'w') as f:
        f.write('# mmfa quickstart results\n\n' + note + '\n\n' + table + '\n')
        if len(seeds) > 1:
            f.write('\nPer seed:\n\n| method | seed | ' + ' | '.join(HEADS) +
                    ' |\n|---|---|' + '---|' * 5 + '\n')
            for (method, seed), r in runs.items():
                f.write(f'| {method} | {seed} | ' + ' | '.join(
                    f'{r[m]:.1f}' if m in r else '-' for m in METRICS) +
                        ' |\n')
        f.write('\n## Plots\n\n' + ''.join(
            f'- [{title}]({name})\n' for name, title in plots))
    results = dict(
        preset=preset,
        variant=args.variant,
        seeds=seeds,
        minutes=seconds / 60,
        size=size,
        summary={
            name: {m: dict(mean=c[0], std=c[1], n=c[2])
                   for m, c in cells.items()}
            for name, cells in rows.items()
        },
        references=refs,
        runs={f'{m}/seed{s}': r
              for (m, s), r in runs.items()})
    with open(osp.join(work, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    print(f'[quickstart] wrote {work}/results.md, results.json and '
          f'{", ".join(n for n, _ in plots)}', flush=True)


def make_plots(refs, runs, rows, methods, seeds, work, args):
    """kNN curves, loss curves, the results bar chart and 2-D embeddings."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    plots = []

    def save(fig, ax, name, caption, **legend):
        ax.legend(**legend)
        fig.tight_layout()
        fig.savefig(osp.join(work, name), dpi=100)
        plt.close(fig)
        plots.append((name, caption))

    fig, ax = plt.subplots(figsize=(7, 4))
    for method in methods:
        curves = [runs[(method, s)]['knn_curve'] for s in seeds
                  if runs.get((method, s), {}).get('knn_curve')]
        if not curves:
            continue
        epochs = [e for e, _ in curves[0]]
        vals = np.array([[v for _, v in c] for c in curves])
        mean = vals.mean(0)
        line, = ax.plot(epochs, mean, marker='o', label=method)
        if len(curves) > 1:
            ax.fill_between(epochs, vals.min(0), vals.max(0), alpha=0.2,
                            color=line.get_color())
    for name, style in (('raw pixels', ':'), ('supervised', '--')):
        if name in refs:
            ax.axhline(refs[name]['knn_top1'], ls=style, color='gray',
                       label=f'{name} (reference)')
    ax.set_xlabel('pre-training epoch')
    ax.set_ylabel('kNN top-1 (%)')
    ax.set_title('kNN top-1 during pre-training (KNNMonitorHook)')
    save(fig, ax, 'knn_curve.png', 'kNN top-1 over epochs, per method')

    fig, ax = plt.subplots(figsize=(7, 4))
    for method in methods:
        r = runs.get((method, seeds[0]))
        if r and r['loss_curve']:
            its, vals = zip(*r['loss_curve'])
            ax.plot(its, vals, label=method)
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.set_title(f'pre-training loss (seed {seeds[0]})')
    save(fig, ax, 'pretrain_loss.png', 'pre-training loss')

    fig, ax = plt.subplots(figsize=(9, 4))
    names = list(rows)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        xs, ys, es = [], [], []
        for j, m in enumerate(METRICS):
            if m in rows[name]:
                xs.append(j + i * width)
                ys.append(rows[name][m][0])
                es.append(rows[name][m][1])
        # error bars only where there is a spread over seeds (one seed would
        # draw flat caps that read as measured error)
        ax.bar(xs, ys, width, yerr=es if len(seeds) > 1 else None,
               capsize=2, label=name)
    ax.set_xticks([j + width * (len(names) - 1) / 2
                   for j in range(len(METRICS))])
    ax.set_xticklabels(HEADS)
    ax.set_ylabel('%')
    ax.set_title('mmfa quickstart' + (f' (mean ± std over {len(seeds)} seeds)'
                                      if len(seeds) > 1 else ''))
    save(fig, ax, 'results.png', 'results per row' +
         (', error bars over seeds' if len(seeds) > 1 else ''), fontsize=8)

    fa = [m for m in methods if m != 'baseline']
    shown = [m for m in methods if m == 'baseline']
    if fa:
        shown.append(max(fa, key=lambda m: rows[m].get('knn_top1', (0, ))[0]))
    if shown and all(osp.isfile(runs[(m, seeds[0])]['checkpoint'])
                     for m in shown):
        embedding_plot(
            [(m, runs[(m, seeds[0])]['checkpoint']) for m in shown],
            args.data_root, osp.join(work, 'embedding.png'))
        plots.append(('embedding.png', '2-D t-SNE of validation features: '
                      + ' vs '.join(shown)))
    return plots


def embedding_plot(models, data_root, path):
    """t-SNE of the validation backbone features, coloured by class."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import torch
    import torch.nn.functional as F
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from sklearn.manifold import TSNE

    from mmfa.datasets import SHAPE_CLASSES
    from mmfa.registry import MODELS
    from mmfa.utils.checkpoint_io import load_checkpoint_file
    init_default_scope('mmfa')
    cls_root = osp.join(osp.abspath(data_root), 'cls')
    imgs, labels = _load_split(cls_root, 'val')
    x = _normalised(imgs)
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4.6))
    axes = [axes] if len(models) == 1 else axes
    cfg = Config.fromfile(osp.join(ROOT, QS, PRETRAIN['baseline']))
    for ax, (name, ckpt) in zip(axes, models):
        backbone = revert_sync_batchnorm(MODELS.build(cfg.model.backbone))
        state = load_checkpoint_file(ckpt)['state_dict']
        backbone.load_state_dict({
            k[len('backbone.'):]: v
            for k, v in state.items() if k.startswith('backbone.')
        })
        backbone.eval()
        with torch.no_grad():
            feats = F.normalize(
                backbone(x)[-1].mean((2, 3)), dim=1).numpy()
        emb = TSNE(n_components=2, init='pca', random_state=0,
                   perplexity=30).fit_transform(feats)
        sc = ax.scatter(emb[:, 0], emb[:, 1], c=labels, cmap='tab10', s=8)
        ax.set_title(f'{name}: validation features (t-SNE)')
        ax.set_xticks([])
        ax.set_yticks([])
    handles = sc.legend_elements()[0]
    ncol = 9 if len(models) > 1 else 5
    fig.legend(handles, SHAPE_CLASSES, loc='lower center', ncol=ncol,
               fontsize=8)
    fig.tight_layout(rect=(0, 0.07 if ncol == 9 else 0.12, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == '__main__':
    main()
