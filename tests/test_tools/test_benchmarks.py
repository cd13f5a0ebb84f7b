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


QUICKSTART = osp.join(ROOT, 'configs', 'quickstart',
                      'parallel-predictor_resnet18-w16_1xb64-coslr-45e_shapes.py')


@pytest.fixture(scope='module')
def tiny_shapes(tmp_path_factory):
    """16 training images of the quickstart's 64 px shapes set."""
    from mmfa.datasets import generate_shapes_cls
    root = str(tmp_path_factory.mktemp('shapes') / 'cls')
    generate_shapes_cls(root, num_train=16, num_val=0, img_size=64, seed=0,
                        progress=False)
    return root


def _device_form(cfg):
    """The quickstart config with its views made in the model (the older form)."""
    import copy
    cfg = copy.deepcopy(cfg)
    cfg.model.data_preprocessor.views = cfg.train_dataloader.collate_fn.views
    cfg.model.data_preprocessor.channels_last = False
    cfg.train_dataloader.collate_fn = dict(type='default_collate')
    return cfg


def test_benchmark_pipeline_train_variants(tiny_shapes):
    """The configs and thread envs of the four --train variants, from both
    config forms; the per-image pipeline runs with mmpretrain's transforms."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmfa.registry import DATASETS
    cfg = Config.fromfile(QUICKSTART)
    views = bench_pipeline._plain(cfg.train_dataloader.collate_fn.views)
    expected = {
        'per-image': dict(
            pipeline=['LoadImageFromFile', 'MultiView', 'PackInputs'],
            view_transforms=[[t['type'] for t in v] for v in views],
            collate_fn='default_collate', collate_views=0,
            preprocessor='SelfSupDataPreprocessor', preprocessor_views=0,
            channels_last=False, num_workers=3),
        'device': dict(
            pipeline=['LoadImageFromFile', 'PackInputs'], view_transforms=[],
            collate_fn='default_collate', collate_views=0,
            preprocessor='BatchViewAugmentor', preprocessor_views=2,
            channels_last=False, num_workers=1),
        'workers': dict(
            pipeline=['LoadImageFromFile', 'PackInputs'], view_transforms=[],
            collate_fn='batch_view_collate', collate_views=2,
            preprocessor='BatchViewAugmentor', preprocessor_views=0,
            channels_last=False, num_workers=1),
    }
    expected['workers+cl'] = dict(expected['workers'], channels_last=True)
    threads = {'per-image': 3, 'device': 6, 'workers': 5, 'workers+cl': 5}
    mean_std = {k: cfg.model.data_preprocessor[k]
                for k in ('mean', 'std', 'to_rgb')}
    for variant in bench_pipeline.TRAIN_VARIANTS:
        notes = set()
        built, env = bench_pipeline.train_variant(
            cfg, variant, epochs=3, threads=6, per_image_workers=3,
            notes=notes)
        other, other_env = bench_pipeline.train_variant(
            _device_form(cfg), variant, epochs=3, threads=6,
            per_image_workers=3)
        assert bench_pipeline.describe_run_config(built) == expected[variant]
        assert env == other_env == dict(
            OMP_NUM_THREADS=str(threads[variant]),
            MKL_NUM_THREADS=str(threads[variant]))
        # either config form gives the same run
        for key in ('train_dataloader', 'model'):
            assert bench_pipeline._plain(built[key]) == \
                bench_pipeline._plain(other[key]), (variant, key)
        pre = built.model.data_preprocessor
        assert {k: pre[k] for k in mean_std} == mean_std
        assert built.train_dataloader.persistent_workers
        if variant == 'device':
            assert bench_pipeline._plain(pre['views']) == views
        if variant.startswith('workers'):
            assert bench_pipeline._plain(
                built.train_dataloader.collate_fn['views']) == views
        # the run: kNN monitor off, one checkpoint, every iteration logged as
        # is; the input config untouched
        assert [h['type'] for h in built.custom_hooks] == [
            'FeatureBankHook', 'PreemptionCheckpointHook']
        assert built.train_cfg.max_epochs == 3
        assert built.default_hooks.checkpoint.interval == 3
        assert built.default_hooks.logger.interval == 1
        assert built.log_processor.window_size == 1
        assert [s['type'] for s in built.param_scheduler] == [
            'LinearLR', 'CosineAnnealingLR']
        assert (notes != set()) == (variant == 'per-image')
    assert cfg.train_cfg.max_epochs == 45
    assert [h['type'] for h in cfg.custom_hooks][-1] == 'KNNMonitorHook'
    # two epochs: the cosine schedule, which begins at epoch 2, is dropped
    short, _ = bench_pipeline.train_variant(cfg, 'workers', 2, 2)
    assert [s['type'] for s in short.param_scheduler] == ['LinearLR']

    # per-image views: the config's, hue_space dropped
    per_image, _ = bench_pipeline.train_variant(cfg, 'per-image', 3, 2)
    mv = bench_pipeline._plain(per_image.train_dataloader.dataset.pipeline[1])
    for got, want in zip(mv['transforms'], views):
        want[2]['transforms'][0].pop('hue_space')
        assert got == want
    # mmpretrain builds and runs it: two 32 px views per image
    init_default_scope('mmfa')
    dataset_cfg = per_image.train_dataloader.dataset
    dataset_cfg.data_root = tiny_shapes
    item = DATASETS.build(dataset_cfg)[0]
    assert [tuple(v.shape) for v in item['inputs']] == [(3, 32, 32)] * 2
    assert not torch.equal(item['inputs'][0], item['inputs'][1])


def test_benchmark_pipeline_per_image_views_conversion():
    jitter = dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                  saturation=0.2, hue=0.1)
    views = [[dict(jitter, prob=0.8, hue_space='hsv')], [dict(jitter)]]
    notes = set()
    got = bench_pipeline.per_image_views(views, notes)
    assert got == [[dict(type='RandomApply', transforms=[jitter], prob=0.8)],
                   [jitter]]
    assert notes == set()  # hsv is the per-image hue space: nothing dropped
    assert views[0][0]['prob'] == 0.8  # the input is not modified
    with pytest.raises(SystemExit, match=r"\['gamma'\] have no per-image"):
        bench_pipeline.per_image_views([[dict(jitter, gamma=1.0)]])
    # a worker crop (MultiView in the pipeline) goes before the batched part
    crop = dict(type='RandomResizedCrop', scale=8)
    pipeline = bench_pipeline.per_image_pipeline(
        [dict(type='LoadImageFromFile'),
         dict(type='MultiView', num_views=2, transforms=[[crop]]),
         dict(type='PackInputs')], [[jitter], [jitter]])
    assert pipeline[1] == dict(type='MultiView', num_views=[1, 1],
                               transforms=[[crop, jitter], [crop, jitter]])


def test_benchmark_pipeline_round_order():
    variants = ['a', 'b', 'c']
    orders = [bench_pipeline.round_order(variants, r) for r in range(4)]
    assert orders == [['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b'],
                      ['a', 'b', 'c']]
    # every variant takes every position once in len(variants) rounds
    for pos in range(3):
        assert sorted(o[pos] for o in orders[:3]) == variants


def test_benchmark_pipeline_train_errors(tiny_shapes, tmp_path, capsys):
    from mmengine.config import Config
    cfg = Config.fromfile(QUICKSTART)
    cfg.train_dataloader.collate_fn = dict(type='default_collate')
    with pytest.raises(SystemExit, match='defines no views'):
        bench_pipeline.train_variant(cfg, 'workers', 2, 2)
    with pytest.raises(SystemExit):
        bench_pipeline.parse_args(['--train', QUICKSTART, '--epochs', '1'])
    assert '--epochs >= 2' in capsys.readouterr().err
    # a failing run: non-zero exit with the run's last log lines
    with pytest.raises(SystemExit, match=r'workers \(round 1\) run failed '
                       r'\(exit 1\)[\s\S]*Error') as e:
        bench_pipeline.main([
            '--train', QUICKSTART, '--epochs', '2', '--rounds', '1',
            '--variants', 'workers', '--cfg-options',
            f'train_dataloader.dataset.data_root={tmp_path / "missing"}'
        ])
    assert 'missing' in str(e.value)


def test_benchmark_pipeline_train_runs(tiny_shapes, tmp_path, capsys):
    """--train trains the quickstart (2 epochs of 2 iterations, batch 8) as
    per-image and through the workers, and reports their step times. One math
    thread: on a shared CI machine, threads = cores oversubscribe it."""
    out = tmp_path / 'train_paths.json'
    report = bench_pipeline.main([
        '--train', QUICKSTART, '--epochs', '2', '--rounds', '1', '--variants',
        'per-image', 'workers', '--threads', '1', '--out', str(out),
        '--cfg-options', f'train_dataloader.dataset.data_root={tiny_shapes}',
        'train_dataloader.batch_size=8'
    ])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    printed = capsys.readouterr()
    assert '| per-image | 2 | 1 |' in printed.out
    assert '| workers | 1 | 1 |' in printed.out
    assert "hue_space='yiq'" in printed.err
    assert report['mode'] == 'train' and report['baseline'] == 'per-image'
    per_image, workers = report['results']
    assert [per_image['variant'], workers['variant']] == ['per-image',
                                                          'workers']
    for res in report['results']:
        (run, ) = res['rounds']
        # epoch 2 only: 16 images / batch 8
        assert run['iterations'] == 2 and run['time']['n'] == 2
        assert run['ms_per_iter'] > 0 and run['time']['min'] > 0
        assert run['ms_per_iter'] == pytest.approx(
            run['time']['median'] * 1e3)
        assert res['it_per_s'] == pytest.approx(1e3 / res['ms_per_iter'])
        # the config the Runner dumped is the variant's
        assert run['ran'] == res['config']
    assert per_image['rounds'][0]['ran']['pipeline'] == [
        'LoadImageFromFile', 'MultiView', 'PackInputs']
    assert per_image['rounds'][0]['ran']['num_workers'] == 2
    assert workers['rounds'][0]['ran']['collate_fn'] == 'batch_view_collate'
    assert per_image['ratio'] == 1.0
    assert workers['ratio'] == pytest.approx(per_image['ms_per_iter'] /
                                             workers['ms_per_iter'])
    assert workers['round_ratios'] == [pytest.approx(workers['ratio'])]
    assert report['settings']['batch_size'] == 8


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


def test_benchmark_train_channels_last_feeds_nhwc_views(tiny_configs, monkeypatch):
    """--channels-last: the step's backbone receives channels-last views, as
    with tools/train.py --channels-last (the weights stay NCHW)."""
    from mmpretrain.models import ResNet
    seen = []
    original = ResNet.forward

    def spy(self, x):
        seen.append((x.is_contiguous(memory_format=torch.channels_last),
                     self.conv1.weight.is_contiguous()))
        return original(self, x)

    monkeypatch.setattr(ResNet, 'forward', spy)
    bench_train.main([
        tiny_configs['base'], '--batch-size', '2', '--img-size', '32',
        '--iters', '1', '--warmup', '0', '--repeats', '1', '--memory-steps',
        '0', '--device', 'cpu', '--channels-last'
    ])
    assert seen and all(s == (True, True) for s in seen)
