# Copyright (c) mmfa contributors. All rights reserved.
"""Smoke tests of the benchmark tools on tiny settings (ResNet-18, 32 px, batch 2-4,
one round). They check the report's structure and the quantities that do not depend
on timing (bank bookkeeping, persistent memory, ratio identities); no assertion is
made on a measured time."""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools', 'analysis_tools')
PP = osp.join(ROOT, 'configs', 'selfsup', 'fa_id',
              'parallel-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py')
SIMCLR_REF = osp.join(TOOLS, 'benchmark_configs',
                      'simclr_strong-proj_resnet50_8xb64_in100.py')
BYOL = osp.join(ROOT, 'configs', 'selfsup', 'fa_byol',
                'fa-byol_resnet50_8xb64-coslr-100e_in100.py')
BYOL_REF = osp.join(TOOLS, 'benchmark_configs', 'byol_resnet50_8xb64_in100.py')


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(TOOLS, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_train = load_tool('benchmark_train')
bench_bank = load_tool('benchmark_bank')
bench_pipeline = load_tool('benchmark_pipeline')
bu = load_tool('benchmark_utils')

TINY_NET = """
model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=32, out_channels=16){predictor})
"""
TINY_PREDICTOR = (',\n    predictor=dict(in_channels=16, hid_channels=32, '
                  'out_channels=16)')


def _write(path, text):
    path.write_text(text)
    return str(path)


@pytest.fixture(scope='module')
def tiny_configs(tmp_path_factory):
    """The paper / reference configs shrunk to a ResNet-18 with 16-d features."""
    d = tmp_path_factory.mktemp('cfgs')
    base = _write(d / 'pp.py', f'_base_ = {PP!r}\n' +
                  TINY_NET.format(predictor=TINY_PREDICTOR))
    nn = _write(
        d / 'pp_nn.py', "_base_ = './pp.py'\nmodel = dict(head=dict(augmenter="
        "dict(type='NearestNeighborFA', bank=dict(type='FeatureBank', "
        'size=256, dim=16))))\n')
    mask = _write(
        d / 'pp_mask.py', "_base_ = './pp.py'\nmodel = dict(head=dict("
        "augmenter=dict(type='MaskFA', ratio=0.2)))\n")
    simclr = _write(d / 'simclr.py', f'_base_ = {SIMCLR_REF!r}\n' +
                    TINY_NET.format(predictor=''))
    return dict(base=base, nn=nn, mask=mask, simclr=simclr, dir=d)


def test_benchmark_train_report(tiny_configs, tmp_path, capsys):
    out = tmp_path / 'train.json'
    c = tiny_configs
    report = bench_train.main([
        c['base'], '--compare', c['mask'], c['nn'], c['simclr'],
        '--batch-size', '4', '--img-size', '32', '--iters', '1', '--warmup',
        '1', '--repeats', '1', '--bank-fill', '0.5', '--device', 'cpu',
        '--out', str(out)
    ])
    assert json.loads(out.read_text())['results'][2]['name'] == 'pp_nn'
    printed = capsys.readouterr().out
    assert '| config |' in printed and 'paired x' in printed
    base, mask, nn, simclr = report['results']
    assert [r['model'] for r in report['results']] == [
        'ParallelPredictorFA', 'ParallelPredictorFA', 'ParallelPredictorFA',
        'SimCLR'
    ]
    for r in report['results']:
        assert (r['batch_size'], r['num_views'], r['img_size']) == (4, 2, 32)
        assert r['step_time']['n'] == 1
        assert set(bench_train.PHASES) <= set(r['phases'])
        assert {'forward_backward', 'fa_bank'} <= set(r['phases'])
        assert set(r['ratios']) == {
            'step_time', 'step_time_paired', 'forward_backward', 'peak_memory'
        }
        # every ratio is this config's value over the reference's
        assert r['ratios']['step_time'] == pytest.approx(
            r['step_time']['median'] / base['step_time']['median'])
        assert r['ratios']['peak_memory'] == pytest.approx(
            r['peak_memory']['bytes'] / base['peak_memory']['bytes'])
        assert r['peak_memory']['bytes'] == (
            r['peak_memory']['persistent_bytes'] +
            r['peak_memory']['transient_bytes'])
    assert base['ratios']['step_time'] == 1.0
    assert base['ratios']['step_time_paired']['median'] == 1.0
    # FA is timed only where there is an augmenter, the bank only for NN
    assert base['augmenter'] is None and base['phases']['fa']['max'] == 0
    assert mask['augmenter'].startswith('MaskFA')
    assert mask['phases']['bank_query']['max'] == 0
    assert nn['phases']['bank_query']['n'] == 1
    # bank: half filled up front, then 4 entries per step (warm-up, timed,
    # memory step) written by the training loss
    assert nn['bank_sizes'] == [256] and nn['bank_written'] == [128 + 3 * 4]
    # the NN config keeps exactly the bank (feats + ptr + num_written) on top
    # of the same network and optimizer state
    assert (nn['peak_memory']['persistent_bytes'] -
            base['peak_memory']['persistent_bytes']) == 256 * 16 * 4 + 2 * 8
    assert report['machine']['torch'] == torch.__version__


def test_benchmark_train_real_data(tiny_configs, tmp_path):
    report = bench_train.main([
        tiny_configs['base'], '--real-data', '--generate-images', '6',
        '--num-workers', '0', '--batch-size', '2', '--iters', '2', '--warmup',
        '0', '--repeats', '1', '--memory-steps', '0', '--device', 'cpu',
        '--cfg-options', 'model.head.augmenter.type=MaskFA'
    ])
    (res, ) = report['results']
    # --cfg-options reached the config
    assert res['augmenter'] == 'MaskFA(ratio=0.2, num_aug=1)'
    # the crop size comes from the config's pipeline
    assert res['img_size'] == 224 and report['settings']['real_data']
    assert res['data_time']['n'] == 2 and res['step_time']['n'] == 2
    assert res['peak_memory'] is None and res['ratios']['peak_memory'] is None


def test_benchmark_train_bad_args(tiny_configs, tmp_path):
    with pytest.raises(SystemExit):
        bench_train.parse_args([tiny_configs['base'], '--data-dir', 'x'])
    with pytest.raises(SystemExit, match='not found'):
        bench_train.main([str(tmp_path / 'missing.py'), '--device', 'cpu'])


def test_infer_inputs_reads_the_pipeline(tiny_configs):
    from mmengine.config import Config
    cfg = Config.fromfile(tiny_configs['base'])
    assert bench_train.infer_inputs(cfg) == dict(
        num_views=2, img_size=224, batch_size=64)
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='MultiView', num_views=[2, 6], transforms=[
            [dict(type='RandomResizedCrop', scale=(96, 64))], []]),
    ]
    assert bench_train.infer_inputs(cfg)['num_views'] == 8
    assert bench_train.infer_inputs(cfg)['img_size'] == 64


def test_benchmark_bank_report(tmp_path):
    out = tmp_path / 'bank.json'
    report = bench_bank.main([
        '--sizes', '256', '64', '--batches', '4', '8', '--dim', '16',
        '--chunk-size', '32', '--topk', '2', '--repeats', '1', '--device',
        'cpu', '--out', str(out)
    ])
    assert json.loads(out.read_text())['settings']['chunk_size'] == 32
    cells = {(c['size'], c['batch']): c for c in report['results']}
    assert set(cells) == {(64, 4), (64, 8), (256, 4), (256, 8)}
    for (size, n), c in cells.items():
        assert c['chunk_bound_bytes'] == n * 32 * 4
        assert c['full_matrix_bytes'] == n * size * 4
        assert c['bank_bytes'] == size * 16 * 4
        assert c['size_ratio'] == size / 64
        assert c['query_time']['n'] == 1 and c['enqueue_time']['n'] == 1
        assert c['query_ns_per_pair'] == pytest.approx(
            c['query_time']['median'] * 1e9 / (n * size))
    assert cells[(64, 4)]['time_ratio'] == 1.0


def test_benchmark_pipeline_report(tmp_path):
    out = tmp_path / 'pipe.json'
    report = bench_pipeline.main([
        '--pipelines', 'symm_weak_pipeline', 'asymm_strong_pipeline',
        '--num-images', '4', '--workers', '0', '1', '--batch-size', '2',
        '--min-size', '32', '--max-size', '48', '--out', str(out)
    ])
    assert json.loads(out.read_text())['tool'] == 'benchmark_pipeline'
    assert [r['pipeline'] for r in report['results']] == [
        'symm_weak_pipeline', 'asymm_strong_pipeline'
    ]
    for r in report['results']:
        assert [c['workers'] for c in r['cells']] == [0, 1]
        for c in r['cells']:
            assert c['images'] == 4
            assert c['images_per_s'] == pytest.approx(
                4 / c['epoch_time']['median'])
    with pytest.raises(SystemExit, match='valid names'):
        bench_pipeline.main(['--pipelines', 'no_such_pipeline'])


@pytest.mark.parametrize('extra', [
    [],  # workers crop and flip, the augmentor does the rest
    ['--src-size', '24'],  # fixed-size sources, the crop is batched too
    ['--src-size', '24', '--approx'],  # + the exact=False augmentor
], ids=['worker-crop', 'src-size', 'approx'])
def test_benchmark_pipeline_batched(extra, tmp_path, capsys):
    out = tmp_path / 'batched.json'
    report = bench_pipeline.main([
        '--batched', '--num-images', '4', '--workers', '0', '--batch-size',
        '2', '--min-size', '32', '--max-size', '40', '--size', '16', '--out',
        str(out)
    ] + extra)
    printed = capsys.readouterr().out
    for row in ('| byol_pipeline | per-image |',
                '| byol_pipeline | batched (cpu) |',
                '| byol_pipeline | ratio batched / per-image |'):
        assert row in printed
    assert json.loads(out.read_text())['mode'] == 'batched'
    (res, ) = report['results']
    (cell, ) = res['cells']
    per_image, batched = cell['per_image'], cell['batched']
    assert per_image['images'] == batched['images'] == 4
    assert cell['ratio'] == pytest.approx(batched['images_per_s'] /
                                          per_image['images_per_s'])
    assert batched['augment_time']['median'] < batched['epoch_time']['median']
    assert report['settings']['src_size'] == (24 if extra else None)
    if '--approx' in extra:
        assert '| byol_pipeline | ratio batched exact=False / per-image |' \
            in printed
        fast = cell['batched_approx']
        assert fast['images'] == 4
        assert cell['ratio_approx'] == pytest.approx(
            fast['images_per_s'] / per_image['images_per_s'])
    else:
        assert 'batched_approx' not in cell


def test_write_fake_images(tmp_path):
    paths = bu.write_fake_images(str(tmp_path), 5, 40, 60, seed=1)
    assert len(paths) == 5
    for p in paths:
        with Image.open(p) as img:
            assert img.format == 'JPEG' and img.mode == 'RGB'
            assert all(40 <= s <= 60 for s in img.size)
    # deterministic for a seed
    again = bu.write_fake_images(str(tmp_path / 'b'), 5, 40, 60, seed=1)
    assert open(paths[3], 'rb').read() == open(again[3], 'rb').read()


def test_summarize_matches_hand_computed_quartiles():
    s = bu.summarize([5, 1, 4, 2, 3])
    assert (s['median'], s['q1'], s['q3'], s['iqr']) == (3, 2, 4, 2)
    assert (s['min'], s['max'], s['mean'], s['n']) == (1, 5, 3, 5)
    s = bu.summarize([1, 2])  # inclusive quartiles: 1.25 and 1.75
    assert (s['q1'], s['q3']) == (1.25, 1.75)
    assert bu.summarize([]) is None
    assert bu.summarize([7])['iqr'] == 0


def test_phase_timer_records_only_inside_a_step():
    class Thing:

        def f(self, x):
            return x + 1

    thing = Thing()
    timer = bu.PhaseTimer(torch.device('cpu'))
    timer.wrap(thing, 'f', 'phase')
    assert thing.f(1) == 2  # outside a step: passes through, not recorded
    timer.begin_step()
    assert thing.f(2) == 3 and thing.f(3) == 4
    phases = timer.end_step()
    assert set(phases) == {'phase'}
    assert timer.end_step() == {}


def test_persistent_bytes_counts_params_buffers_and_optimizer_state():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    params = (12 + 4 + 4 + 4) * 4  # linear weight, bias, BN weight, bias
    buffers = (4 + 4) * 4 + 8  # running mean / var, num_batches_tracked
    assert bu.persistent_bytes(model, opt) == params + buffers
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    # SGD momentum: one buffer per parameter
    assert bu.persistent_bytes(model, opt) == 2 * params + buffers
    assert bu.persistent_bytes(model, opt, include_grads=True) == (
        3 * params + buffers)
