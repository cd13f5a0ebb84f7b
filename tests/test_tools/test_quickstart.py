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
    for stage in ('1/5 data', '2/5 pre-training', '3/5 kNN and linear',
                  '4/5 detection', '5/5 results'):
        assert stage in out
    assert 'eta:' in out
    with open(work / 'results.json') as f:
        results = json.load(f)
    # One method keeps CI short; every method runs the same stages.
    assert set(results) == {'nn'}
    for r in results.values():
        for key in ('knn_top1', 'linear_top1', 'AP', 'AP50', 'AP75'):
            assert 0. <= r[key] <= 100., (key, r)
        assert osp.isfile(r['checkpoint'])
    # The NN run fed its feature bank through FeatureBankHook.
    assert 'nearest-neighbour FA is active' in (work / 'nn' /
                                                'pretrain.log').read_text()
    table = (work / 'results.md').read_text()
    assert '| nn |' in table
    for png in ('pretrain_loss.png', 'accuracy_per_method.png'):
        assert (work / png).stat().st_size > 1000
    # The data set is generated with the layouts the configs read.
    assert (data / 'cls' / 'meta' / 'train.txt').is_file()
    assert (data / 'voc' / 'VOC2007' / 'ImageSets' / 'Main' /
            'trainval.txt').is_file()
