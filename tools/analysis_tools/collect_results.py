# Copyright (c) mmfa contributors. All rights reserved.
"""Collect linear-probe, kNN and detection results of work directories into the
paper's tables, beside the numbers the paper reports. Example::

    python tools/analysis_tools/collect_results.py work_dirs/ \\
        --out results.md --plot gains.png

Each WORK_DIR is searched recursively for runs (a folder is a run if it holds what
the tools below write). Read per run, the latest record that has the metric:

* linear probe (``tools/train.py`` / ``dist_linear_eval.sh`` with a config of
  ``configs/benchmarks/mmpretrain/``, or ``tools/test.py``): ``accuracy/top1`` of
  mmengine's ``<timestamp>/vis_data/scalars.json`` (validation records) or of the
  test dump ``<timestamp>/<timestamp>.json``;
* detection (``configs/benchmarks/mmdet/voc0712/``): ``pascal_voc/AP``,
  ``pascal_voc/AP50``, ``pascal_voc/AP75`` from the same files;
* kNN (``tools/analysis_tools/knn_eval.py``): ``knn/top1_k<K>`` of
  ``knn_results.json`` (``--knn-k``, default 20). The paper reports no kNN, so these
  tables carry no paper numbers.

Mapping a run to its pre-training config (a metafile ``Name``), first match wins:

1. ``--map PATH=NAME``: runs under PATH belong to NAME;
2. the pre-training checkpoint the run loaded (its dumped config's
   ``init_cfg.checkpoint`` / ``load_from``, or ``checkpoint`` of
   ``knn_results.json``): a folder or file stem on its path equal to a ``Name``
   (``work_dirs/<Name>/epoch_200.pth``), or a dumped ``<Name>.py`` beside it (the
   pre-training work dir);
3. a folder on the run's own path equal to a ``Name``
   (``work_dirs/<Name>/linear/``).

A run that matches nothing is listed as not mapped, never guessed. Several runs of
one config and protocol (seeds) are averaged; the run count is shown.

Each table has the paper's layout (Table VI with FA methods as rows); a cell reads
``measured (Δ vs the row's no-FA baseline) [paper: reported]``, the difference taken
before rounding. A missing measurement is ``—``, and so is a delta whose baseline
was not measured: nothing is filled in. ``†`` marks a run that stopped before its
last epoch / iteration. ``--plot`` draws the FA gains of Table I (per FA method, one
bar per layout; the paper's gains as black ticks), the layout of the paper's Fig. 3.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import sys
from collections import OrderedDict

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)  # mmfa of this checkout, also without install

from mmfa.utils.model_index import (PAPER_TABLES, ModelIndexError,  # noqa: E402
                                    load_model_index, model_results,
                                    paper_cells)

NONE = '—'
TIMESTAMP = re.compile(r'^\d{8}_\d{6}$')
LINEAR = {'accuracy/top1': 'Top 1 Accuracy'}
DETECTION = {
    'pascal_voc/AP': 'AP',
    'pascal_voc/AP50': 'AP50',
    'pascal_voc/AP75': 'AP75'
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Render the paper\'s tables from linear / kNN / detection '
        'work directories, with deltas and the reported numbers.')
    parser.add_argument('work_dirs', nargs='+', metavar='WORK_DIR',
                        help='work directories (searched recursively)')
    parser.add_argument('--out', help='write the Markdown here (default: '
                        'print it)')
    parser.add_argument('--plot', help='write the Fig. 3-style bar plot of '
                        'Table I FA gains here (png / pdf / svg)')
    parser.add_argument(
        '--map', action='append', default=[], metavar='PATH=NAME',
        help='runs under PATH belong to the metafile model NAME (repeatable)')
    parser.add_argument('--knn-k', type=int, default=20,
                        help='k of the kNN top-1 to report (default: 20)')
    parser.add_argument('--index', default=None,
                        help='model index (default: the repository\'s '
                        'model-index.yml)')
    parser.add_argument('--all-tables', action='store_true',
                        help='also render tables without any measured cell')
    return parser.parse_args(argv)


# ------------------------------------------------------------------ runs
def find_runs(paths: list) -> list:
    """Folders (sorted) holding a timestamped mmengine log or knn_results.json."""
    runs = set()
    for path in paths:
        if not osp.isdir(path):
            raise FileNotFoundError(f'{path} is not a directory; pass work '
                                    'directories of linear / kNN / detection runs.')
        for folder, dirs, files in os.walk(path):
            if 'knn_results.json' in files or any(
                    TIMESTAMP.match(d) for d in dirs):
                runs.add(osp.abspath(folder))
    return sorted(runs)


def _records(run: str, keys: dict, finished_at) -> list:
    """``[(timestamp, step, metrics, unfinished)]`` of one run for ``keys``."""
    found = []
    for stamp in sorted(d for d in os.listdir(run) if TIMESTAMP.match(d)):
        test_dump = osp.join(run, stamp, f'{stamp}.json')
        if osp.isfile(test_dump):  # tools/test.py: one dict
            with open(test_dump) as f:
                record = json.load(f)
            if all(k in record for k in keys):
                found.append((stamp, None, {keys[k]: record[k] for k in keys},
                              False))
        scalars = osp.join(run, stamp, 'vis_data', 'scalars.json')
        if osp.isfile(scalars):  # training with validation: json lines
            with open(scalars) as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    record = json.loads(line)
                    if 'lr' in record or not all(k in record for k in keys):
                        continue  # a training record, or another metric
                    step = record.get('step')
                    unfinished = (finished_at is not None and step is not None
                                  and step < finished_at)
                    found.append((stamp, step, {
                        keys[k]: record[k]
                        for k in keys
                    }, unfinished))
    return found


def _dumped_config(run: str):
    """The config mmengine dumped into the run's folder (None if absent)."""
    from mmengine.config import Config
    dumped = sorted(glob.glob(osp.join(run, '*.py')), key=osp.getmtime)
    if not dumped:
        return None
    return Config.fromfile(dumped[-1], import_custom_modules=False)


def _checkpoints(node) -> list:
    """Every string under a ``checkpoint`` key of a config (pre-training paths)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'checkpoint' and isinstance(value, str):
                found.append(value)
            else:
                found += _checkpoints(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            found += _checkpoints(value)
    return found


def read_run(run: str, knn_k: int) -> dict:
    """Results and pre-training checkpoints of one run folder."""
    cfg = _dumped_config(run)
    ckpts, finished_at = [], None
    if cfg is not None:
        ckpts = _checkpoints(cfg.get('model', {}))
        if cfg.get('load_from'):
            ckpts.append(cfg.load_from)
        train_cfg = cfg.get('train_cfg') or {}
        finished_at = train_cfg.get('max_epochs') or train_cfg.get('max_iters')
    results = {}
    for protocol, keys in (('Linear probe', LINEAR),
                           ('Object Detection', DETECTION)):
        records = _records(run, keys, finished_at)
        if records:
            stamp, step, metrics, unfinished = records[-1]
            source = osp.join(stamp, f'{stamp}.json' if step is None else
                              'vis_data/scalars.json')
            results[protocol] = dict(metrics=metrics, unfinished=unfinished,
                                     source=source, step=step)
    knn_file = osp.join(run, 'knn_results.json')
    if osp.isfile(knn_file):
        with open(knn_file) as f:
            knn = json.load(f)
        if knn.get('checkpoint'):
            ckpts.append(knn['checkpoint'])
        value = (knn.get('results') or {}).get(f'knn/top1_k{knn_k}')
        if value is not None:
            results['kNN'] = dict(metrics={'Top 1 Accuracy': value},
                                  unfinished=False, source='knn_results.json',
                                  step=None)
    return dict(run=run, checkpoints=ckpts, results=results,
                finished_at=finished_at)


def map_run(run: dict, names: set, explicit: list):
    """(model name, how it was found) of a run, or (None, why not)."""
    path = run['run']
    for prefix, name in explicit:
        if path == prefix or path.startswith(prefix + os.sep):
            if name not in names:
                raise ModelIndexError(f'--map names "{name}", which is no '
                                      'model of the index.')
            return name, '--map'
    for ckpt in run['checkpoints']:
        parts = osp.normpath(ckpt).split(os.sep)
        stem = osp.splitext(parts[-1])[0]
        for part in reversed(parts[:-1] + [stem]):
            if part in names:
                return part, f'checkpoint {ckpt}'
        beside = [
            osp.splitext(osp.basename(p))[0]
            for p in glob.glob(osp.join(osp.dirname(ckpt), '*.py'))
        ]
        for name in beside:
            if name in names:
                return name, f'config dumped beside {ckpt}'
    for part in reversed(path.split(os.sep)):
        if part in names:
            return part, 'work dir name'
    why = (f'checkpoint(s) {", ".join(run["checkpoints"])} name no metafile '
           'model' if run['checkpoints'] else 'no pre-training checkpoint found')
    return None, f'{why}; pass --map {path}=NAME'


# ------------------------------------------------------------------ tables
def _mean(values: list) -> float:
    return sum(values) / len(values)


def aggregate(mapped: list) -> dict:
    """``{(name, protocol): dict(values, n, unfinished)}``, seeds averaged."""
    groups = OrderedDict()
    for name, run in mapped:
        for protocol, res in run['results'].items():
            groups.setdefault((name, protocol), []).append(res)
    out = {}
    for key, results in groups.items():
        metrics = list(results[0]['metrics'])
        out[key] = dict(
            values={m: _mean([r['metrics'][m] for r in results])
                    for m in metrics},
            n=len(results),
            unfinished=any(r['unfinished'] for r in results))
    return out


def fmt(value: float) -> str:
    return f'{value:.1f}'


def fmt_delta(value: float) -> str:
    text = f'{value:+.1f}'
    return '+0.0' if text == '-0.0' else text


def table_layout(models: list, table: str):
    """Rows, FA columns (first-seen order) and ``{(row, fa): model}``."""
    cells = OrderedDict()
    for model in models:
        for t, row, fa in paper_cells(model):
            if t == table:
                cells[(row, fa)] = model
    rows = list(OrderedDict.fromkeys(r for r, _ in cells))
    fas = list(OrderedDict.fromkeys(f for _, f in cells))
    return rows, fas, cells


def reported(model: dict, protocol: str, metrics: tuple):
    for result in model_results(model, protocol, 'reported'):
        values = [(result.get('Metrics') or {}).get(m) for m in metrics]
        if all(v is not None for v in values):
            return values
    return None


def cell_text(measured, baseline, paper, is_baseline: bool) -> str:
    """``measured (Δ) [paper: reported]`` with ``—`` for what is missing."""
    if measured is None:
        text = NONE
    else:
        text = ' / '.join(fmt(v) for v in measured['values'])
        if not is_baseline:
            if baseline is None:
                text += f' (Δ {NONE})'
            else:
                text += ' (' + ' / '.join(
                    fmt_delta(a - b)
                    for a, b in zip(measured['values'], baseline['values'])) + ')'
        if measured['unfinished']:
            text += ' †'
        if measured['n'] > 1:
            text += f' (n={measured["n"]})'
    if paper is not None:
        text += ' [paper: ' + ' / '.join(fmt(v) for v in paper) + ']'
    return text


def measured_cell(measured: dict, model: dict, protocol: str, metrics: tuple):
    entry = measured.get((model['Name'], protocol))
    if entry is None:
        return None
    return dict(entry, values=[entry['values'][m] for m in metrics])


def render_table(table: str, models: list, measured: dict, protocol: str,
                 title: str, with_paper: bool):
    """Markdown lines of one table, or None if no cell was measured."""
    spec = PAPER_TABLES.get(table, {})
    metrics = spec.get('metrics', ('Top 1 Accuracy', ))
    rows, fas, cells = table_layout(models, table)
    texts, any_measured = {}, False
    for row in rows:
        base_fa = next((f for f in fas if f.startswith('no FA')
                        and (row, f) in cells), None)
        base = (measured_cell(measured, cells[(row, base_fa)], protocol,
                              metrics) if base_fa else None)
        for fa in fas:
            if (row, fa) not in cells:
                texts[(row, fa)] = NONE
                continue
            model = cells[(row, fa)]
            value = measured_cell(measured, model, protocol, metrics)
            any_measured |= value is not None
            paper = reported(model, spec.get('protocol', protocol),
                             metrics) if with_paper else None
            texts[(row, fa)] = cell_text(value, base, paper, fa == base_fa)
    if not any_measured:
        return None
    lines = [title, '']
    if spec.get('transpose'):
        lines += ['| FA | ' + ' | '.join(rows) + ' |',
                  '|---' * (len(rows) + 1) + '|']
        lines += [f'| {fa} | ' + ' | '.join(texts[(r, fa)] for r in rows) + ' |'
                  for fa in fas]
    else:
        lines += ['| row | ' + ' | '.join(fas) + ' |',
                  '|---' * (len(fas) + 1) + '|']
        lines += [f'| {r} | ' + ' | '.join(texts[(r, f)] for f in fas) + ' |'
                  for r in rows]
    return lines + ['']


def render_markdown(models: list, measured: dict, runs: list, unmapped: list,
                    knn_k: int, all_tables: bool) -> str:
    tables = sorted({t for m in models for t, _, _ in paper_cells(m)},
                    key=lambda t: list(PAPER_TABLES).index(t)
                    if t in PAPER_TABLES else len(PAPER_TABLES))
    out = [
        '# Results collected from the work directories', '',
        'Cell: measured (Δ vs the row\'s no-FA baseline) [paper: reported by '
        'arXiv:2410.12396]; — = not measured (or no baseline for Δ), never '
        'filled in; † = the run stopped early; n = runs averaged.', ''
    ]
    empty = []
    for table in tables:
        spec = PAPER_TABLES.get(table, {})
        protocol = spec.get('protocol', 'Linear probe')
        lines = render_table(table, models, measured, protocol,
                             f'## Table {table}: {spec.get("caption", "")}',
                             with_paper=True)
        if lines is None and all_tables:
            lines = render_table_forced(table, models, measured, protocol)
        if lines is None:
            empty.append(table)
        else:
            out += lines
        if protocol == 'Linear probe':
            knn = render_table(
                table, models, measured, 'kNN',
                f'## Table {table} layout: kNN top-1 (k={knn_k}; the paper '
                'reports none)', with_paper=False)
            out += knn or []
    if empty:
        out += [f'No run measured a cell of Table(s) {", ".join(empty)}.', '']
    out += ['## Runs', '', '| run | config | protocol | metrics | read from |',
            '|---|---|---|---|---|']
    for name, run, how in runs:
        for protocol, res in run['results'].items():
            metrics = ', '.join(f'{k} {v:.2f}' for k, v in res['metrics'].items())
            flag = ' †' if res['unfinished'] else ''
            out.append(f'| {run["run"]} | {name} ({how}) | {protocol} | '
                       f'{metrics}{flag} | {res["source"]} |')
    out.append('')
    if unmapped:
        out += ['## Runs not mapped to a config', '']
        out += [f'- {run["run"]}: {why}' for run, why in unmapped]
        out.append('')
    return '\n'.join(out)


def render_table_forced(table, models, measured, protocol):
    """A table without measurements (``--all-tables``): paper numbers only."""
    spec = PAPER_TABLES.get(table, {})
    rows, fas, cells = table_layout(models, table)
    metrics = spec.get('metrics', ('Top 1 Accuracy', ))
    lines = [f'## Table {table}: {spec.get("caption", "")}', '',
             '| row | ' + ' | '.join(fas) + ' |', '|---' * (len(fas) + 1) + '|']
    for row in rows:
        texts = []
        for fa in fas:
            paper = reported(cells[(row, fa)], protocol,
                             metrics) if (row, fa) in cells else None
            texts.append(cell_text(None, None, paper, True))
        lines.append(f'| {row} | ' + ' | '.join(texts) + ' |')
    return lines + ['']


def plot_gains(models: list, measured: dict, path: str) -> None:
    """Fig. 3 of the paper: Table I gain over no FA, per FA method and layout."""
    import matplotlib
    matplotlib.use('Agg')  # headless: the figure only goes to a file
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    rows, fas, cells = table_layout(models, 'I')
    methods = [f for f in fas if not f.startswith('no FA')]
    width = 0.8 / max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(methods)), 4))
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    handles = [Line2D([], [], color='black', marker='_', linestyle='None',
                      markersize=12, label='paper (reported)')]
    drawn = 0
    for i, row in enumerate(rows):
        base_fa = next((f for f in fas
                        if f.startswith('no FA') and (row, f) in cells), None)
        if base_fa is None:
            continue
        base_m = measured.get((cells[(row, base_fa)]['Name'], 'Linear probe'))
        base_p = reported(cells[(row, base_fa)], 'Linear probe',
                          ('Top 1 Accuracy', ))
        xs, gains, paper_x, paper_gains = [], [], [], []
        for j, fa in enumerate(methods):
            if (row, fa) not in cells:
                continue
            x = j + (i - (len(rows) - 1) / 2) * width
            value = measured.get((cells[(row, fa)]['Name'], 'Linear probe'))
            if value is not None and base_m is not None:
                xs.append(x)
                gains.append(value['values']['Top 1 Accuracy'] -
                             base_m['values']['Top 1 Accuracy'])
            paper = reported(cells[(row, fa)], 'Linear probe',
                             ('Top 1 Accuracy', ))
            if paper is not None and base_p is not None:
                paper_x.append(x)
                paper_gains.append(paper[0] - base_p[0])
        colour = colours[i % len(colours)]
        ax.bar(xs, gains, width * 0.9, color=colour)
        handles.append(Patch(color=colour, label=row))
        drawn += len(xs)
        ax.scatter(paper_x, paper_gains, marker='_', s=120, linewidths=2,
                   color='black', zorder=3)
    ax.axhline(0, color='grey', linewidth=0.8)
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(methods)
    ax.set_ylabel('gain over no FA (linear top-1, points)')
    ax.set_title('Table I: FA gain per layout (bars: measured; ticks: paper)')
    ax.legend(handles=handles, fontsize='small')
    if not drawn:
        ax.text(0.5, 0.5, 'no measured gain yet', transform=ax.transAxes,
                ha='center', va='center')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def collect(args) -> str:
    models = load_model_index(args.index)['Models']
    names = {m['Name'] for m in models}
    explicit = []
    for item in args.map:
        if '=' not in item:
            raise ModelIndexError(f'--map "{item}" is not PATH=NAME.')
        path, name = item.rsplit('=', 1)
        explicit.append((osp.abspath(path), name))
    runs, unmapped, mapped = [], [], []
    for folder in find_runs(args.work_dirs):
        run = read_run(folder, args.knn_k)
        if not run['results']:
            continue  # e.g. a pre-training run: nothing to put in a table
        name, how = map_run(run, names, explicit)
        if name is None:
            unmapped.append((run, how))
        else:
            runs.append((name, run, how))
            mapped.append((name, run))
    measured = aggregate(mapped)
    text = render_markdown(models, measured, runs, unmapped, args.knn_k,
                           args.all_tables)
    if args.plot:
        plot_gains(models, measured, args.plot)
    return text


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        text = collect(args)
    except (ModelIndexError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
        print(f'wrote {args.out}')
    else:
        print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
