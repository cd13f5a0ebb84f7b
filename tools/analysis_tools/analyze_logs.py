# Copyright (c) mmfa contributors. All rights reserved.
"""Plot curves and compute training time from mmengine's scalar json logs
(``work_dirs/<exp>/<timestamp>/vis_data/<timestamp>.json``: one json dict per line).
Follows mmpretrain's ``tools/analysis_tools/analyze_logs.py``, which the pip package
ships only as data (``mmpretrain/.mim/tools/``, run through openmim's ``mim run``,
not part of mmfa's stack) and which takes records without ``lr`` for validation
ones, needs a display backend and fails with a traceback on a wrong key or file.
Examples::

    python tools/analysis_tools/analyze_logs.py plot_curve a.json b.json \\
        --keys loss --legend baseline fa --out loss.png
    python tools/analysis_tools/analyze_logs.py cal_train_time a.json
"""
import argparse
import json
import os.path as osp
import sys
from itertools import groupby
from typing import Dict, List

import matplotlib

matplotlib.use('Agg')  # headless: figures are only written to files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load_json_log(json_log: str) -> Dict[str, List[dict]]:
    """Split an mmengine json log into ``train`` and ``val`` records.

    mmengine writes a training record (with ``lr``, ``iter``, usually ``epoch``)
    every logging interval and a validation record (metrics and ``step``) after each
    validation; mmpretrain tells them apart by ``lr`` alone, mmfa also by ``iter``
    so that logs without a learning rate key are read too.
    """
    if not osp.isfile(json_log):
        raise FileNotFoundError(f'Log {json_log} does not exist.')
    log_dict = dict(train=[], val=[])
    with open(json_log) as f:
        for num, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                log = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{json_log}:{num} is not json ({e}); pass '
                                 'the vis_data/*.json scalar log.') from e
            mode = 'train' if ('lr' in log or 'iter' in log) else 'val'
            log_dict[mode].append(log)
    return log_dict


def get_legends(json_logs: List[str], keys: List[str],
                legend: List[str] = None) -> List[str]:
    """One legend per (log, key); ``<log name>_<key>`` when none is given."""
    if legend is None:
        legend = []
        for json_log in json_logs:
            name = osp.splitext(osp.basename(json_log))[0]
            if name.endswith('.log'):
                name = name[:-4]
            legend += [f'{name}_{key}' for key in keys]
    if len(legend) != len(json_logs) * len(keys):
        raise ValueError(
            f'--legend needs one entry per log and key ({len(json_logs)} logs '
            f'x {len(keys)} keys = {len(json_logs) * len(keys)}), got '
            f'{len(legend)}.')
    return legend


def _series(records: List[dict], key: str, train: bool):
    """x, y of ``key``; training x in epochs when the log has epochs."""
    records = [r for r in records if key in r and 'step' in r]
    xs = np.array([r['step'] for r in records], dtype=np.float64)
    ys = np.array([r[key] for r in records], dtype=np.float64)
    xlabel = 'Steps'
    if train:
        xlabel = 'Iters'
        if records and records[-1].get('epoch'):
            # mmpretrain's conversion of iterations to (fractional) epochs
            xs = xs / (records[-1]['step'] / records[-1]['epoch'])
            xlabel = 'Epochs'
    return xs, ys, xlabel


def plot_curve(log_dicts: List[dict], json_logs: List[str], keys: List[str],
               out: str, legend: List[str] = None, title: str = None,
               window_size: str = '12*7') -> str:
    """Plot ``keys`` of all logs on one figure and save it to ``out``."""
    legends = get_legends(json_logs, keys, legend)
    wind_w, wind_h = (int(v) for v in window_size.split('*'))
    fig = plt.figure(figsize=(wind_w, wind_h))
    xlabels = set()
    for i, log_dict in enumerate(log_dicts):
        train_keys = {k for r in log_dict['train'] for k in r} - {
            'step', 'epoch', 'iter'
        }
        val_keys = {k for r in log_dict['val'] for k in r} - {'step'}
        for j, key in enumerate(keys):
            if key in val_keys:
                xs, ys, xlabel = _series(log_dict['val'], key, False)
            elif key in train_keys:
                xs, ys, xlabel = _series(log_dict['train'], key, True)
            else:
                raise ValueError(
                    f'Key "{key}" is not in {json_logs[i]}; choose from '
                    f'{sorted(train_keys | val_keys)}.')
            print(f'plot curve of {json_logs[i]}, metric is {key}')
            plt.plot(
                xs, ys, label=legends[i * len(keys) + j], linewidth=0.75)
            xlabels.add(xlabel)
    plt.xlabel(' / '.join(sorted(xlabels)))
    plt.legend()
    if title is not None:
        plt.title(title)
    plt.savefig(out)
    plt.close(fig)
    print(f'save curve to: {out}')
    return out


def cal_train_time(log_dicts: List[dict], json_logs: List[str],
                   include_outliers: bool = False) -> List[dict]:
    """Print (and return) the average time per training iteration of each log."""
    results = []
    for json_log, log_dict in zip(json_logs, log_dicts):
        print(f'{"-" * 5}Analyze train time of {json_log}{"-" * 5}')
        train_logs = [r for r in log_dict['train'] if 'time' in r]
        if not train_logs:
            raise ValueError(f'{json_log} has no training records with a '
                             '"time" key.')
        res = {}
        if 'epoch' in train_logs[0]:
            epoch_times = []
            for _, logs in groupby(train_logs, lambda r: r['epoch']):
                times = np.array([r['time'] for r in logs])
                # the first record of an epoch includes dataloader start-up
                if not include_outliers and len(times) > 1:
                    times = times[1:]
                epoch_times.append(times.mean())
            epoch_times = np.array(epoch_times)
            slow, fast = epoch_times.argmax(), epoch_times.argmin()
            print(f'slowest epoch {slow + 1}, average time is '
                  f'{epoch_times[slow]:.4f}')
            print(f'fastest epoch {fast + 1}, average time is '
                  f'{epoch_times[fast]:.4f}')
            print(f'time std over epochs is {epoch_times.std():.4f}')
            res.update(
                slowest_epoch=int(slow) + 1,
                fastest_epoch=int(fast) + 1,
                epoch_std=float(epoch_times.std()))
        avg = float(np.mean([r['time'] for r in train_logs]))
        print(f'average iter time: {avg:.4f} s/iter')
        last_step = train_logs[-1].get('step')
        if last_step:
            print(f'estimated training time for {last_step} iters: '
                  f'{avg * last_step / 3600:.2f} h')
        print()
        res['avg_iter_time'] = avg
        results.append(res)
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Analyze json logs')
    subparsers = parser.add_subparsers(dest='task', required=True)
    plot = subparsers.add_parser('plot_curve', help='plot scalar curves')
    plot.add_argument('json_logs', nargs='+', help='vis_data json logs')
    plot.add_argument(
        '--keys', nargs='+', default=['loss'], help='scalars to plot')
    plot.add_argument('--title', help='figure title')
    plot.add_argument(
        '--legend', nargs='+', default=None,
        help='one legend per log and key (log-major order)')
    plot.add_argument(
        '--out', default=None,
        help='output image (default: <first log>_<keys>.png beside it)')
    plot.add_argument(
        '--window-size', default='12*7', help='figure size "W*H" in inches')
    time_p = subparsers.add_parser(
        'cal_train_time', help='average time per training iteration')
    time_p.add_argument('json_logs', nargs='+', help='vis_data json logs')
    time_p.add_argument(
        '--include-outliers', action='store_true',
        help='include the first record of every epoch')
    args = parser.parse_args(argv)
    if args.task == 'plot_curve':
        import re
        if not re.fullmatch(r'\d+\*\d+', args.window_size):
            parser.error('--window-size must look like W*H, e.g. 12*7')
    for json_log in args.json_logs:
        if not json_log.endswith('.json'):
            parser.error(f'{json_log} is not a .json log; pass the '
                         'vis_data/*.json file, not the text log.')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        log_dicts = [load_json_log(p) for p in args.json_logs]
        if args.task == 'cal_train_time':
            cal_train_time(log_dicts, args.json_logs, args.include_outliers)
        else:
            out = args.out or (osp.splitext(args.json_logs[0])[0] + '_' +
                               '_'.join(k.replace('/', '-')
                                        for k in args.keys) + '.png')
            plot_curve(log_dicts, args.json_logs, args.keys, out, args.legend,
                       args.title, args.window_size)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
