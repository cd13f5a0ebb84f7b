# Copyright (c) mmfa contributors. All rights reserved.
"""collect_results.py on work directories written here, as mmengine and
knn_eval.py write them: a partial Table I, Table VI, kNN, mapping rules."""
import glob
import json
import os
import os.path as osp
import re

import yaml

from tests.utils import ROOT, load_tool

cr = load_tool('tools/analysis_tools/collect_results.py')

BASIC = 'basic_resnet50_8xb64-accum8-coslr-200e_in100'
MASK = 'basic-mask_resnet50_8xb64-accum8-coslr-200e_in100'
GAUSS = 'basic-gaussian-noise_resnet50_8xb64-accum8-coslr-200e_in100'
PP_NN = 'parallel-predictor-nn_resnet50_8xb64-accum8-coslr-200e_in100'
DET_BASE = 'parallel-predictor_resnet50_8xb64-accum8-coslr-100e_in1k'
DET_NN = 'parallel-predictor-nn_resnet50_8xb64-accum8-coslr-100e_in1k'
LINEAR_CFG = 'fa-id_resnet50_linear-8xb32-steplr-60e_in100.py'


def _reported(name, task_prefix, metric):
    """The metafile's reported number, read with plain YAML (not the tool)."""
    for path in glob.glob(osp.join(ROOT, 'configs', '**', 'metafile.yml'),
                          recursive=True):
        with open(path) as f:
            for model in yaml.safe_load(f)['Models']:
                if model['Name'] != name:
                    continue
                for r in model['Results']:
                    if r['Task'].startswith(task_prefix + ' (reported'):
                        return r['Metrics'][metric]
    raise KeyError(name)


def _linear_run(work_dir, checkpoint, top1s, max_epochs=60, stamp=None):
    """A linear-eval work dir: dumped config + scalars.json (val every 10
    epochs up to epoch 60; ``max_epochs`` > 60 makes it an unfinished run)."""
    stamp = stamp or '20260101_120000'
    os.makedirs(osp.join(work_dir, stamp, 'vis_data'), exist_ok=True)
    with open(osp.join(work_dir, LINEAR_CFG), 'w') as f:
        f.write("model = dict(backbone=dict(init_cfg=dict(type="
                f"'PretrainedStrict', checkpoint='{checkpoint}')))\n"
                f'train_cfg = dict(by_epoch=True, max_epochs={max_epochs})\n')
    with open(osp.join(work_dir, stamp, 'vis_data', 'scalars.json'), 'w') as f:
        for i, top1 in enumerate(top1s):  # the last one at epoch 60
            epoch = 60 - 10 * (len(top1s) - 1 - i)
            f.write(json.dumps(dict(lr=0.1, loss=2.0, step=epoch - 5)) + '\n')
            f.write(json.dumps({'accuracy/top1': top1, 'accuracy/top5': 95.0,
                                'step': epoch}) + '\n')


def _det_test_run(work_dir, ap, ap50, ap75, stamp='20260102_080000'):
    """A tools/test.py detection work dir: <stamp>/<stamp>.json, one dict."""
    os.makedirs(osp.join(work_dir, stamp), exist_ok=True)
    with open(osp.join(work_dir, stamp, f'{stamp}.json'), 'w') as f:
        json.dump({'pascal_voc/AP': ap, 'pascal_voc/AP50': ap50,
                   'pascal_voc/AP75': ap75}, f)


def _cells(markdown, title_prefix):
    """{row: [cells]} of the first Markdown table under the given heading."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith(title_prefix))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        parts = [p.strip() for p in line.strip('|').split('|')]
        rows[parts[0]] = parts[1:]
    return rows


def test_partial_table1_deltas_missing_cells_and_plot(tmp_path):
    wd = tmp_path / 'work_dirs'
    # Basic no FA: a finished run; Mask: two seeds (averaged); Gaussian: a run
    # stopped at epoch 40 of 60; Parallel-predictor NN without its baseline.
    base = [61.0, 70.25]
    mask = ([60.0, 71.0], [62.0, 72.0])
    _linear_run(str(wd / 'lin-basic'), f'work_dirs/{BASIC}/epoch_200.pth', base)
    _linear_run(str(wd / 'lin-mask-s0'), f'work_dirs/{MASK}/epoch_200.pth',
                mask[0])
    _linear_run(str(wd / 'lin-mask-s1'), f'/abs/work_dirs/{MASK}/epoch_200.pth',
                mask[1])
    _linear_run(str(wd / 'lin-gauss'), f'work_dirs/{GAUSS}/epoch_200.pth',
                [65.0, 69.0, 69.5, 69.94], max_epochs=100)
    _linear_run(str(wd / PP_NN / 'linear'), 'checkpoints/backbone.pth', [80.0])
    # a run whose checkpoint names no config: listed, not guessed
    _linear_run(str(wd / 'lin-mystery'), 'ckpts/something_else.pth', [50.0])
    out, plot = tmp_path / 'results.md', tmp_path / 'gains.png'
    assert cr.main([str(wd), '--out', str(out), '--plot', str(plot)]) == 0
    md = out.read_text()
    table = _cells(md, '## Table I:')
    header = [line for line in md.splitlines()
              if line.startswith('| row | no FA |')][0]
    cols = [c.strip() for c in header.strip('|').split('|')][1:]
    basic = dict(zip(cols, table['Basic']))

    def paper(name):
        return f'[paper: {_reported(name, "Linear probe", "Top 1 Accuracy"):.1f}]'

    base_v = base[-1]
    mask_v = (mask[0][-1] + mask[1][-1]) / 2
    gauss_v = 69.94
    assert basic['no FA'] == f'{base_v:.1f} {paper(BASIC)}'
    delta = round(mask_v - base_v, 1)
    assert basic['Mask'] == (f'{mask_v:.1f} ({delta:+.1f}) (n=2) '
                             f'{paper(MASK)}')
    delta = round(gauss_v - base_v, 1)
    assert basic['Gaussian'] == (f'{gauss_v:.1f} ({delta:+.1f}) † '
                                 f'{paper(GAUSS)}')
    # not measured: shown missing, with the paper's number beside it
    nn_basic = 'basic-nn_resnet50_8xb64-accum8-coslr-200e_in100'
    assert basic['NN'] == f'— {paper(nn_basic)}'
    pp = dict(zip(cols, table['Parallel-predictor']))
    assert pp['NN'] == f'80.0 (Δ —) {paper(PP_NN)}'  # no baseline run
    assert pp['no FA'].startswith('— [paper: ')
    assert all(c.startswith('— [paper: ') for c in table['Post-predictor'])
    # the run list says how each run was mapped; the stranger is not mapped
    assert re.search(rf'\| {re.escape(str(wd / PP_NN / "linear"))} \| {PP_NN} '
                     r'\(work dir name\)', md)
    assert f'{wd / "lin-mystery"}: checkpoint(s) ckpts/something_else.pth' in md
    assert '--map' in md.split('## Runs not mapped')[1]
    assert 'No run measured a cell of Table(s) II, III, IV, V, VI.' in md
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert plot.stat().st_size > 10000


def test_detection_knn_and_explicit_map(tmp_path):
    wd = tmp_path / 'wd'
    base, nn = (52.0, 80.0, 57.0), (53.26, 80.5, 56.0)
    _det_test_run(str(wd / 'det-a'), *base)
    _det_test_run(str(wd / 'det-b'), *nn)
    # kNN: knn_eval.py's json; its checkpoint sits in a pre-training work dir
    # with the dumped config <Name>.py (mapping rule 2, config beside it)
    pre = tmp_path / 'pre'
    pre.mkdir()
    (pre / f'{MASK}.py').write_text('model = dict()\n')
    os.makedirs(wd / 'knn')
    with open(wd / 'knn' / 'knn_results.json', 'w') as f:
        json.dump(dict(config='x.py', checkpoint=str(pre / 'epoch_200.pth'),
                       results={'knn/top1_k20': 66.6, 'knn/top1_k10': 60.0}),
                  f)
    assert cr.main([
        str(wd), '--out', str(tmp_path / 'r.md'), '--map',
        f'{wd / "det-a"}={DET_BASE}', '--map', f'{wd / "det-b"}={DET_NN}'
    ]) == 0
    md = (tmp_path / 'r.md').read_text()
    table = _cells(md, '## Table VI:')
    header = [line for line in md.splitlines() if line.startswith('| FA |')][0]
    cols = [c.strip() for c in header.strip('|').split('|')][1:]
    assert cols == ['100 epochs', '200 epochs']

    def paper(name):
        return ' / '.join(f'{_reported(name, "Object Detection", m):.1f}'
                          for m in ('AP', 'AP50', 'AP75'))

    assert table['no FA'][0] == ('52.0 / 80.0 / 57.0 [paper: '
                                 f'{paper(DET_BASE)}]')
    deltas = ' / '.join(f'{round(a - b, 1):+.1f}' for a, b in zip(nn, base))
    assert table['NN'][0] == (f'53.3 / 80.5 / 56.0 ({deltas}) '
                              f'[paper: {paper(DET_NN)}]')
    assert table['NN'][1].startswith('— [paper: ')  # 200 epochs: no run
    # kNN (k=20 by default) in Table I's layout, without paper numbers
    knn = _cells(md, '## Table I layout: kNN top-1 (k=20')
    assert '66.6 (Δ —)' in knn['Basic']
    assert '[paper' not in ' '.join(knn['Basic'])
    assert 'config dumped beside' in md
    # --knn-k picks another k; an unknown --map name is a one-line error
    assert cr.main([str(wd / 'knn'), '--knn-k', '10', '--out',
                    str(tmp_path / 'k.md')]) == 0
    assert '60.0 (Δ —)' in (tmp_path / 'k.md').read_text()
    assert cr.main([str(wd), '--map', f'{wd}=no_such_config']) == 1
    assert cr.main([str(tmp_path / 'missing')]) == 1
