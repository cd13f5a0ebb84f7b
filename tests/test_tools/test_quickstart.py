# Copyright (c) mmfa contributors. All rights reserved.
"""The main job (tools/quickstart.py) end to end, at a reduced size."""
import json
import os.path as osp

from tests.utils import run_tool


def test_quickstart_tiny_end_to_end(tmp_path):
    work, data = tmp_path / 'work', tmp_path / 'data'
    proc = run_tool([
        'tools/quickstart.py', '--tiny', '--methods', 'nn',
        '--work-dir', str(work), '--data-root', str(data)
    ], timeout=900)
    out = proc.stdout
    # Progress is visible: every stage and the Runner's lines with an ETA.
    for stage in ('1/5 data', '2/5 reference rows', '3/5 pre-training',
                  '4/5 evaluating', '5/5 results'):
        assert stage in out
    assert 'eta:' in out
    with open(work / 'results.json') as f:
        results = json.load(f)
    # One method keeps CI short; every method runs the same stages.
    assert set(results['runs']) == {'nn/seed0'}
    assert set(results['summary']) == {'raw pixels', 'random init',
                                       'supervised', 'nn'}
    rows = list(results['references'].values()) + list(
        results['runs'].values())
    for r in rows[1:]:  # raw pixels: kNN only
        for key in ('knn_top1', 'linear_top1', 'AP', 'AP50', 'AP75'):
            assert 0. <= r[key] <= 100., (key, r)
        assert osp.isfile(r['checkpoint'])
    assert 0. <= results['references']['raw pixels']['knn_top1'] <= 100.
    # The online kNN monitor logged the curve: at start and every epoch.
    curve = results['runs']['nn/seed0']['knn_curve']
    assert [e for e, _ in curve] == [0, 1, 2, 3]
    # its last point is the row's kNN (knn_eval's protocol on the final weights)
    assert results['runs']['nn/seed0']['knn_top1'] == curve[-1][1]
    # The NN run fed its feature bank through FeatureBankHook.
    assert 'nearest-neighbour FA is active' in (work / 'nn' /
                                                'pretrain.log').read_text()
    table = (work / 'results.md').read_text()
    for row in ('| **nn** |', '| raw pixels |', '| random init |',
                '| supervised |'):
        assert row in table
    for png in ('knn_curve.png', 'pretrain_loss.png', 'results.png',
                'embedding.png'):
        assert (work / png).stat().st_size > 1000
        assert f']({png})' in table
    # The data set is generated with the layouts the configs read.
    assert (data / 'cls' / 'meta' / 'train.txt').is_file()
    assert (data / 'voc' / 'VOC2007' / 'ImageSets' / 'Main' /
            'trainval.txt').is_file()


def test_quickstart_report_over_seeds(tmp_path):
    """--seeds N: each row is mean +- sample std over the seeds, every seed's
    numbers stay in results.json and results.md, the plots are linked."""
    import argparse

    from tests.utils import load_tool
    qs = load_tool('tools/quickstart.py')
    args = argparse.Namespace(methods=['baseline', 'nn'], variant='clean',
                              data_root=str(tmp_path / 'data'))
    refs = {'raw pixels': dict(knn_top1=20.0),
            'random init': dict(knn_top1=10., linear_top1=12., AP=0.1,
                                AP50=0.5, AP75=0., checkpoint='none')}
    runs = {}
    for method, base in (('baseline', 50.), ('nn', 52.)):
        for seed, delta in ((0, -1.), (1, 0.), (2, 1.)):
            runs[(method, seed)] = dict(
                knn_top1=base + delta, linear_top1=base + 5 + delta, AP=1.,
                AP50=3. + delta, AP75=0.5, checkpoint='missing.pth',
                knn_curve=[(0, 11.), (5, 30. + delta), (10, base + delta)],
                loss_curve=[(1, 4.2), (10, 3.0)], pretrain_log='x')
    qs.write_report(args, qs.SIZES['cpu'], 'cpu', refs, runs, [0, 1, 2],
                    str(tmp_path), 600.)
    results = json.loads((tmp_path / 'results.json').read_text())
    assert results['summary']['nn']['knn_top1'] == dict(mean=52., std=1., n=3)
    assert results['summary']['raw pixels']['knn_top1']['n'] == 1
    assert set(results['runs']) == {f'{m}/seed{s}' for m in ('baseline', 'nn')
                                    for s in range(3)}
    md = (tmp_path / 'results.md').read_text()
    assert '| **nn** | 52.0 ± 1.0 | 57.0 ± 1.0 |' in md
    assert '| nn | 2 | 53.0 |' in md  # the per-seed table
    assert '10.0 min' in md
    for png in ('knn_curve.png', 'pretrain_loss.png', 'results.png'):
        assert (tmp_path / png).stat().st_size > 1000
        assert f']({png})' in md
    # no checkpoints here, so no embedding plot (and no link to one)
    assert not (tmp_path / 'embedding.png').exists()
    assert 'embedding.png' not in md


def test_a_failed_row_stops_the_job(tmp_path, monkeypatch):
    """--jobs: a failing row ends the job with its error; the rows not started
    yet are dropped, not run after the failure."""
    import pytest

    from tests.utils import load_tool
    quickstart = load_tool('tools/quickstart.py')
    calls = []

    def failing_run(args, log_file, threads=1):
        calls.append(args[1])
        raise SystemExit(f'[quickstart] failed (1): {args[1]}')

    monkeypatch.setattr(quickstart, 'run', failing_run)
    with pytest.raises(SystemExit, match='failed'):
        quickstart.main([
            '--tiny', '--no-references', '--methods', 'baseline', 'mask', 'nn',
            '--jobs', '1', '--work-dir', str(tmp_path / 'work'),
            '--data-root', str(tmp_path / 'data')
        ])
    # one pre-training started and failed; the other two rows never ran
    assert len(calls) == 1 and 'parallel-predictor' in calls[0]
    assert not (tmp_path / 'work' / 'results.md').exists()
