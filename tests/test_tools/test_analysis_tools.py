# Copyright (c) mmfa contributors. All rights reserved.
import json

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from tests.utils import load_tool


analyze_logs = load_tool('tools/analysis_tools/analyze_logs.py')
tsne_tool = load_tool('tools/analysis_tools/visualize_tsne.py')

# per-iteration times of 2 epochs x 3 logging records
TIMES = [[0.9, 0.2, 0.4], [0.7, 0.3, 0.5]]


def _write_log(path, loss_scale=1.0):
    """mmengine-style vis_data json: train records every 10 iters, val per epoch."""
    with open(path, 'w') as f:
        step = 0
        for epoch, times in enumerate(TIMES, 1):
            for t in times:
                step += 10
                f.write(json.dumps(dict(
                    lr=0.1, data_time=0.01, loss=loss_scale / step, time=t,
                    epoch=epoch, iter=step, memory=0, step=step)) + '\n')
            f.write(json.dumps({'accuracy/top1': 10.0 * epoch,
                                'data_time': 0.01, 'time': 0.1,
                                'step': epoch}) + '\n')
    return str(path)


def _is_png(path):
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert img[..., :3].std() > 0  # something was drawn
    return img


def test_load_json_log_splits_train_and_val(tmp_path):
    log = analyze_logs.load_json_log(_write_log(tmp_path / 'a.json'))
    assert len(log['train']) == 6 and len(log['val']) == 2
    assert [r['accuracy/top1'] for r in log['val']] == [10.0, 20.0]


def test_plot_curve(tmp_path, capsys):
    a = _write_log(tmp_path / 'a.json')
    b = _write_log(tmp_path / 'b.json', loss_scale=2.0)
    out = str(tmp_path / 'fig.png')
    assert analyze_logs.main([
        'plot_curve', a, b, '--keys', 'loss', '--legend', 'base', 'fa',
        '--out', out
    ]) == 0
    _is_png(out)
    assert analyze_logs.main(
        ['plot_curve', a, '--keys', 'loss', 'accuracy/top1']) == 0
    _is_png(str(tmp_path / 'a_loss_accuracy-top1.png'))
    capsys.readouterr()
    assert analyze_logs.main(['plot_curve', a, '--keys', 'los']) == 1
    err = capsys.readouterr().err
    assert '"los"' in err and "'loss'" in err
    assert analyze_logs.main(
        ['plot_curve', a, b, '--legend', 'one', '--out', out]) == 1
    assert 'one entry per log and key' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        analyze_logs.main(['plot_curve', str(tmp_path / 'a.log')])


def test_train_series_in_epochs(tmp_path):
    log = analyze_logs.load_json_log(_write_log(tmp_path / 'a.json'))
    xs, ys, xlabel = analyze_logs._series(log['train'], 'loss', True)
    # 60 iterations over 2 epochs: 30 iterations an epoch
    np.testing.assert_allclose(xs, np.arange(10, 70, 10) / 30)
    np.testing.assert_allclose(ys, 1.0 / np.arange(10, 70, 10))
    assert xlabel == 'Epochs'


def test_cal_train_time(tmp_path, capsys):
    a = _write_log(tmp_path / 'a.json')
    res = analyze_logs.cal_train_time(
        [analyze_logs.load_json_log(a)], [a])[0]
    # without the first record of each epoch: epoch means 0.3 and 0.4
    assert res['slowest_epoch'] == 2 and res['fastest_epoch'] == 1
    assert res['epoch_std'] == pytest.approx(0.05)
    assert res['avg_iter_time'] == pytest.approx(3.0 / 6)
    with_outliers = analyze_logs.cal_train_time(
        [analyze_logs.load_json_log(a)], [a], include_outliers=True)[0]
    # epoch means 0.5 and 0.5
    assert with_outliers['epoch_std'] == pytest.approx(0.0)
    assert analyze_logs.main(['cal_train_time', a]) == 0
    assert 'average iter time: 0.5000 s/iter' in capsys.readouterr().out


# ---------------------------------------------------------------- t-SNE
TSNE_CFG = """
default_scope = 'mmfa'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, norm_cfg=dict(type='SyncBN')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=9, in_channels=512))
data_preprocessor = dict(
    type='ClsDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3,
    to_rgb=True)
val_dataloader = dict(
    batch_size=8, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CustomDataset', data_root={root!r}, ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
"""


@pytest.fixture(scope='module')
def tsne_setup(tmp_path_factory):
    from mmpretrain.models import ResNet

    from mmfa.datasets import generate_shapes_cls
    tmp = tmp_path_factory.mktemp('tsne')
    root = str(tmp / 'cls')
    generate_shapes_cls(
        root, num_train=0, num_val=27, img_size=32, seed=0, progress=False)
    cfg = tmp / 'tiny_tsne.py'
    cfg.write_text(TSNE_CFG.format(root=root))
    torch.manual_seed(0)
    net = ResNet(depth=18)
    net.eval()  # mmpretrain's ResNet.train() returns None: no chaining
    ckpt = tmp / 'pretrain.pth'
    torch.save({'state_dict': {
        **{'backbone.' + k: v for k, v in net.state_dict().items()},
        'neck.fc.weight': torch.zeros(2, 2)  # other keys are ignored
    }}, str(ckpt))
    return dict(root=root, cfg=str(cfg), ckpt=str(ckpt), net=net)


def test_tsne_backbone_loading_and_features(tsne_setup):
    from mmengine.config import Config
    cfg = Config.fromfile(tsne_setup['cfg'])
    backbone, pre, loader, dataset = tsne_tool.build_from_config(
        cfg, max_num_samples=12)
    assert len(dataset) == 12
    ref = tsne_setup['net'].state_dict()
    assert any(not torch.equal(v, ref[k])
               for k, v in backbone.state_dict().items()
               if v.dtype.is_floating_point)  # random init differs
    n = tsne_tool.load_backbone_checkpoint(backbone, tsne_setup['ckpt'])
    assert n == len(ref)
    for k, v in backbone.state_dict().items():
        assert torch.equal(v, ref[k]), k
    feats, labels = tsne_tool.extract_pooled_features(backbone, pre, loader)
    assert feats.shape == (12, 512)
    # evenly spaced subset of the 27 val images, in order (no shuffling)
    idx = np.unique(np.linspace(0, 26, 12).round()).astype(int)
    np.testing.assert_array_equal(labels, idx % 9)
    # independent computation for one image: normalise, backbone, mean over HxW
    import cv2
    path = dataset.get_data_info(5)['img_path']
    img = cv2.imread(path)[..., ::-1].astype(np.float32)
    x = torch.from_numpy((img - 127.5) / 64.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        expected = tsne_setup['net'](x)[-1].mean((2, 3))[0].numpy()
    np.testing.assert_allclose(feats[5], expected, rtol=1e-4, atol=1e-5)


def test_tsne_cli_writes_png(tsne_setup, tmp_path):
    out = str(tmp_path / 'tsne.png')
    assert tsne_tool.main([
        tsne_setup['cfg'], tsne_setup['ckpt'], '--out', out, '--device',
        'cpu', '--max-num-samples', '18', '--cfg-options',
        'val_dataloader.batch_size=6'
    ]) == 0
    _is_png(out)


def test_tsne_errors(tsne_setup, tmp_path, capsys):
    wrong = tmp_path / 'wrong.pth'
    torch.save({'state_dict': {'foo.weight': torch.zeros(1)}}, str(wrong))
    assert tsne_tool.main([
        tsne_setup['cfg'], str(wrong), '--out', str(tmp_path / 'x.png'),
        '--device', 'cpu'
    ]) == 1
    assert 'No key of' in capsys.readouterr().err
    assert tsne_tool.main([
        tsne_setup['cfg'], tsne_setup['ckpt'], '--dataloader-key',
        'test_dataloader', '--device', 'cpu'
    ]) == 1
    assert 'no test_dataloader' in capsys.readouterr().err
