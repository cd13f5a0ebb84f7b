# Copyright (c) mmfa contributors. All rights reserved.
"""mmfa's main job, offline on a CPU: the whole method on generated data.

1. Generates the shapes data set (class = shape; colour, position, scale, rotation and
   background vary) in the ImageNet-style and VOC-style layouts.
2. Pre-trains a small ResNet-18 in the paper's Parallel-predictor layout without FA
   (baseline) and with FA (Mask, NN by default), ``tools/train.py`` each.
3. Evaluates every backbone by weighted kNN and by a linear probe.
4. Fine-tunes a Faster R-CNN from every backbone on the VOC-style set (AP, AP50, AP75).
5. Prints one results table and writes ``results.md``, ``results.json`` and PNG plots
   (pre-training loss curves, accuracy per method) to the work dir.

Usage::

    python tools/quickstart.py [--work-dir work_dirs/quickstart] [--methods baseline mask nn]
    python tools/quickstart.py --tiny      # a reduced run (minutes), as CI runs it
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
QS = 'configs/quickstart'
PRETRAIN = {
    'baseline': 'parallel-predictor_resnet18-w16_1xb64-coslr-25e_shapes.py',
    'mask': 'parallel-predictor-mask_resnet18-w16_1xb64-coslr-25e_shapes.py',
    'nn': 'parallel-predictor-nn_resnet18-w16_1xb64-coslr-25e_shapes.py',
}
LINEAR = f'{QS}/linear_resnet18-w16_1xb64-coslr-10e_shapes.py'
DET = f'{QS}/faster-rcnn_resnet18-w16-dc5_1xb4-300it_shapes-voc.py'
# Sizes of the full run and of --tiny (CI): data, epochs, iterations.
SIZES = {
    'full': dict(num_train=1800, num_val=360, det_trainval=150, det_test=50,
                 pretrain_epochs=25, linear_epochs=10, det_iters=300),
    'tiny': dict(num_train=96, num_val=36, det_trainval=12, det_test=6,
                 pretrain_epochs=2, linear_epochs=1, det_iters=4),
}


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
        '--tiny', action='store_true', help='a reduced run (CI, smoke test)')
    parser.add_argument(
        '--skip-det', action='store_true', help='skip the detection transfer')
    parser.add_argument(
        '--pretrain-epochs',
        type=int,
        help='pre-training epochs, >= 2 (default: 25, 2 with --tiny); more give '
        'the small model time to learn shapes beyond colour')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def banner(text):
    print(f'\n{"=" * 78}\n[quickstart] {text}\n{"=" * 78}', flush=True)


def run(args, log_file):
    """Run a tool with this interpreter, streaming its output; fail loudly."""
    cmd = [sys.executable] + args
    print('[quickstart] $ ' + ' '.join(cmd), flush=True)
    os.makedirs(osp.dirname(log_file), exist_ok=True)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    # One math thread per process: with the data-loader workers beside it, more
    # oversubscribe a small CPU and make the small convolutions ~10x slower.
    env.setdefault('OMP_NUM_THREADS', '1')
    env.setdefault('MKL_NUM_THREADS', '1')
    with open(log_file, 'w') as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
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


def last_scalars(work_dir):
    """The scalars of the newest mmengine json log of a work dir."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', '*.json')))
    logs = [p for p in logs if not p.endswith('scalars.json')] or logs
    if not logs:
        raise SystemExit(f'[quickstart] no json log under {work_dir}')
    records = []
    with open(logs[-1]) as f:
        for line in f:
            records.append(json.loads(line))
    return logs[-1], records


def latest_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def main(argv=None):
    args = parse_args(argv)
    size = dict(SIZES['tiny' if args.tiny else 'full'])
    if args.pretrain_epochs is not None:
        if args.pretrain_epochs < 2:
            raise SystemExit('--pretrain-epochs must be >= 2 (one warm-up '
                             'epoch, then the cosine schedule)')
        size['pretrain_epochs'] = args.pretrain_epochs
    work = osp.abspath(args.work_dir)
    data = osp.abspath(args.data_root)
    os.makedirs(work, exist_ok=True)
    start = time.time()

    banner(f'1/5 data: generated shapes -> {data}')
    sys.path.insert(0, ROOT)
    from mmfa.datasets import generate_shapes_cls, generate_shapes_voc
    generate_shapes_cls(
        osp.join(data, 'cls'),
        num_train=size['num_train'],
        num_val=size['num_val'],
        seed=args.seed)
    generate_shapes_voc(
        osp.join(data, 'voc'),
        num_trainval=size['det_trainval'],
        num_test=size['det_test'],
        seed=args.seed)
    cls_root, voc_root = osp.join(data, 'cls') + '/', osp.join(data,
                                                               'voc') + '/'

    results = {}
    for i, method in enumerate(args.methods):
        banner(f'2/5 pre-training {i + 1}/{len(args.methods)}: {method}')
        wd = osp.join(work, method, 'pretrain')
        epochs = size['pretrain_epochs']
        run([
            'tools/train.py', f'{QS}/{PRETRAIN[method]}', '--work-dir', wd,
            '--cfg-options', f'train_dataloader.dataset.data_root={cls_root}',
            f'train_cfg.max_epochs={epochs}',
            f'default_hooks.checkpoint.interval={epochs}',
            f'randomness.seed={args.seed}'
        ], osp.join(work, method, 'pretrain.log'))
        ckpt = latest_checkpoint(wd)
        log, _ = last_scalars(wd)
        results[method] = dict(checkpoint=ckpt, pretrain_log=log)

        banner(f'3/5 kNN and linear probe: {method}')
        data_opts = [
            f'train_dataloader.dataset.data_root={cls_root}',
            f'val_dataloader.dataset.data_root={cls_root}',
            f'test_dataloader.dataset.data_root={cls_root}'
        ]
        knn_dir = osp.join(work, method, 'knn')
        run([
            'tools/analysis_tools/knn_eval.py', LINEAR, ckpt, '--k', '20',
            '200', '--work-dir', knn_dir, '--cfg-options'
        ] + data_opts, osp.join(work, method, 'knn.log'))
        with open(osp.join(knn_dir, 'knn_results.json')) as f:
            knn = json.load(f)['results']
        results[method]['knn_top1'] = knn['knn/top1_k20']
        lin_dir = osp.join(work, method, 'linear')
        lin_epochs = size['linear_epochs']
        run([
            'tools/train.py', LINEAR, '--work-dir', lin_dir, '--cfg-options',
            f'model.backbone.init_cfg.checkpoint={ckpt}',
            f'train_cfg.max_epochs={lin_epochs}',
            f'train_cfg.val_interval={lin_epochs}',
            f'randomness.seed={args.seed}'
        ] + data_opts, osp.join(work, method, 'linear.log'))
        _, records = last_scalars(lin_dir)
        acc = [r['accuracy/top1'] for r in records if 'accuracy/top1' in r]
        results[method]['linear_top1'] = acc[-1]

        if not args.skip_det:
            banner(f'4/5 detection transfer: {method}')
            det_dir = osp.join(work, method, 'det')
            iters = size['det_iters']
            run([
                'tools/train.py', DET, '--work-dir', det_dir, '--cfg-options',
                f'model.backbone.init_cfg.checkpoint={ckpt}',
                f'train_dataloader.dataset.data_root={voc_root}',
                f'val_dataloader.dataset.data_root={voc_root}',
                f'test_dataloader.dataset.data_root={voc_root}',
                f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
                f'param_scheduler.1.end={iters}',
                f'param_scheduler.1.milestones=[{int(iters * 0.75)}]',
                f'default_hooks.checkpoint.interval={iters}',
                f'randomness.seed={args.seed}'
            ], osp.join(work, method, 'det.log'))
            _, records = last_scalars(det_dir)
            det = [r for r in records if 'pascal_voc/AP' in r][-1]
            results[method].update(
                AP=det['pascal_voc/AP'],
                AP50=det['pascal_voc/AP50'],
                AP75=det['pascal_voc/AP75'])

    banner('5/5 results')
    write_report(results, work, args, time.time() - start)


def write_report(results, work, args, seconds):
    """Print and save the results table and the plots."""
    cols = ['knn_top1', 'linear_top1', 'AP', 'AP50', 'AP75']
    heads = ['kNN top-1', 'linear top-1', 'AP', 'AP50', 'AP75']
    lines = [
        '| method | ' + ' | '.join(heads) + ' |',
        '|---|' + '---|' * len(cols),
    ]
    for method, r in results.items():
        cells = [f'{r[c]:.1f}' if c in r else '-' for c in cols]
        lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
    table = '\n'.join(lines)
    note = (f'Quickstart ({"tiny" if args.tiny else "full"} run, seed '
            f'{args.seed}, {seconds / 60:.1f} min): Parallel-predictor '
            'ResNet-18 (width 16) pre-trained on generated shapes; kNN '
            '(k=20, T=0.07) and linear probe on the shapes classes, Faster '
            'R-CNN on the VOC-style shapes set (AP over IoU 0.50:0.95, VOC07 '
            '11-point).')
    print(table + '\n\n' + note, flush=True)
    with open(osp.join(work, 'results.md'), 'w') as f:
        f.write(note + '\n\n' + table + '\n')
    with open(osp.join(work, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
    from analyze_logs import load_json_log, plot_curve
    logs = [r['pretrain_log'] for r in results.values()]
    plot_curve([load_json_log(p) for p in logs], logs, ['loss'],
               osp.join(work, 'pretrain_loss.png'), list(results),
               'pre-training loss', '8*4')
    fig, ax = plt.subplots(figsize=(7, 4))
    metrics = [c for c in cols if all(c in r for r in results.values())]
    width = 0.8 / max(len(results), 1)
    for i, (method, r) in enumerate(results.items()):
        xs = [j + i * width for j in range(len(metrics))]
        ax.bar(xs, [r[m] for m in metrics], width, label=method)
    ax.set_xticks([j + width * (len(results) - 1) / 2
                   for j in range(len(metrics))])
    ax.set_xticklabels([heads[cols.index(m)] for m in metrics])
    ax.set_ylabel('%')
    ax.set_title('mmfa quickstart: accuracy / AP per method')
    ax.legend()
    fig.tight_layout()
    fig.savefig(osp.join(work, 'accuracy_per_method.png'), dpi=100)
    print(f'[quickstart] wrote {work}/results.md, results.json, '
          'pretrain_loss.png, accuracy_per_method.png', flush=True)


if __name__ == '__main__':
    main()
