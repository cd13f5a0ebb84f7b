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
