# Copyright (c) mmfa contributors. All rights reserved.
"""tools/train.py and tools/test.py fail with one clear message on bad input."""
import copy
import os.path as osp

import pytest

from tests.utils import ROOT, run_tool


def test_missing_config_names_the_file():
    proc = run_tool(['tools/train.py', 'no_such.py'], check=False)
    assert proc.returncode != 0
    assert 'config file not found: no_such.py' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_unknown_type_names_registry_and_close_matches(tmp_path):
    cfg = tmp_path / 'bad_type.py'
    base = osp.join(ROOT, 'tests/data/tiny_simclr.py')
    cfg.write_text(f"_base_ = '{base}'\n"
                   "model = dict(neck=dict(type='NonLinearNek'))\n")
    proc = run_tool(['tools/train.py', str(cfg), '--work-dir',
                     str(tmp_path / 'w')], check=False)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "Unknown type 'NonLinearNek' in the model registry" in last
    assert 'Close matches: NonLinearNeck' in last
    assert str(cfg) in last
    assert 'Traceback' not in proc.stderr


def test_test_tool_missing_checkpoint_names_the_file(tmp_path):
    proc = run_tool(['tools/test.py', osp.join(ROOT, 'tests/data/tiny_simclr.py'),
                     str(tmp_path / 'missing.pth')], check=False)
    assert proc.returncode != 0
    assert 'checkpoint file not found' in proc.stderr
    assert 'missing.pth' in proc.stderr


def test_install_script_rejects_unknown_options():
    import subprocess
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools/install.sh'),
                           '--bogus'], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown option '--bogus'" in proc.stderr
    assert '--system' in proc.stderr


# ------------------------------------------ safe and clear by default (#13)
def _tool_exit(tool, argv):
    """Run a tool's main() in this process; its SystemExit message."""
    import pytest

    from tests.utils import load_tool
    with pytest.raises(SystemExit) as exc:
        load_tool(tool).main(argv)
    message = exc.value.code
    assert isinstance(message, str), message
    assert len(message.splitlines()) == 1, message
    return message


def _simclr_args(tmp_path, data, *options):
    import uuid
    return [
        osp.join(ROOT, 'tests/data/tiny_simclr.py'), '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        f'train_dataloader.dataset.data_root={data}',
        f'experiment_name=cli-{uuid.uuid4().hex}', *options
    ]


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f'touch {self.marker}', ))


def test_resume_refuses_code_and_non_checkpoints_in_one_line(
        tmp_path, monkeypatch):
    import torch

    from tests.utils import make_image_folder
    monkeypatch.delenv('MMFA_TRUST_CHECKPOINT', raising=False)
    data = make_image_folder(str(tmp_path / 'data'))
    marker = tmp_path / 'pwned'
    evil = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': {}, 'x': _RunsCode(marker)}, evil)
    message = _tool_exit('tools/train.py',
                         _simclr_args(tmp_path, data) + ['--resume', evil])
    assert message.startswith('tools/train.py: Checkpoint ' + evil)
    assert 'posix.system' in message and '--trust-checkpoint' in message
    assert not marker.exists()

    noise = tmp_path / 'noise.pth'
    noise.write_bytes(bytes(range(3, 256)) * 10)
    message = _tool_exit(
        'tools/train.py', _simclr_args(tmp_path, data) + ['--resume', str(noise)])
    assert f'{noise} is not a PyTorch checkpoint' in message

    # a weights file (no mmengine meta) given to --resume: use load_from
    weights = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}},
               weights)
    message = _tool_exit('tools/train.py',
                         _simclr_args(tmp_path, data) + ['--resume', weights])
    assert f'Cannot resume from {weights}' in message
    assert 'lacks meta' in message
    assert f'--cfg-options load_from={weights} without --resume' in message


def test_unreadable_image_is_named_in_one_line(tmp_path):
    from tests.utils import make_image_folder
    data = make_image_folder(str(tmp_path / 'data'))
    bad = tmp_path / 'data' / 'a' / 'zero.jpg'
    bad.write_bytes(b'')
    # one batch holds every image; the error comes from a data-loader worker
    message = _tool_exit(
        'tools/train.py',
        _simclr_args(tmp_path, data, 'train_dataloader.batch_size=9',
                     'train_dataloader.num_workers=1',
                     'train_cfg.max_iters=1'))
    assert message.startswith(f'tools/train.py: Cannot read the image {bad}')
    assert 'ignore_empty=True' in message
    assert 'MMFA_SKIP_UNREADABLE_IMAGES=1' in message


def test_config_key_typo_and_bad_cfg_options_are_one_line(tmp_path, capsys):
    import pytest

    from tests.utils import load_tool
    message = _tool_exit(
        'tools/train.py',
        _simclr_args(tmp_path, '/nonexistent', 'load_form=x.pth'))
    assert "Unknown top-level config key 'load_form'" in message
    assert "did you mean 'load_from'" in message

    train = load_tool('tools/train.py')
    # a config-file-style dict value is parsed instead of recursing
    args = train.parse_args([
        'cfg.py', '--cfg-options',
        "model.head.augmenter=dict(type='MaskFA',ratio=0.2)"
    ])
    assert args.cfg_options == {
        'model.head.augmenter': dict(type='MaskFA', ratio=0.2)
    }
    for value in ('model.head.augmenter=dict(type=MaskFA)', 'a=[1,2',
                  'no_equals_sign'):
        with pytest.raises(SystemExit) as exc:
            train.parse_args(['cfg.py', '--cfg-options', value])
        assert exc.value.code == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert ': error: argument --cfg-options: ' in error
        assert 'cannot parse the value' in error or 'KEY=VALUE' in error
        assert 'Traceback' not in error


def test_test_tool_refuses_a_checkpoint_of_another_model(tmp_path):
    from tests.test_benchmarks.data_utils import (make_imagenet_folder,
                                                  make_pretrain_checkpoint)
    imagenet = make_imagenet_folder(str(tmp_path / 'imagenet100'))
    ckpt = str(tmp_path / 'pretrain.pth')
    make_pretrain_checkpoint(ckpt, depth=18)  # backbone + neck/head of SSL
    config = osp.join(
        ROOT, 'configs/benchmarks/mmpretrain/'
        'fa-byol_resnet50_linear-8xb32-steplr-60e_in100.py')
    options = [
        'model.backbone.depth=18', 'model.head.in_channels=512',
        f'test_dataloader.dataset.data_root={imagenet}',
        # mmengine's log processor builds the train loop after testing
        f'train_dataloader.dataset.data_root={imagenet}',
        'test_dataloader.batch_size=4', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ]
    argv = [config, ckpt, '--work-dir', str(tmp_path / 'w'), '--cfg-options']
    message = _tool_exit('tools/test.py', argv + options)
    assert message.startswith(
        f'tools/test.py: Checkpoint {ckpt} does not match the model')
    # the linear head is missing, the pre-training neck/head are unexpected
    assert '2 of the model' in message and 'head.fc.weight' in message
    assert 'neck.mlp.0.weight' in message
    assert "load_from_cfg=dict(prefix='backbone.')" in message
    # naming the prefix to load is the explicit opt-out: the backbone loads
    import uuid
    from tests.utils import load_tool
    metrics = load_tool('tools/test.py').main(
        argv + options +
        ['load_from_cfg.prefix=backbone.', f'experiment_name={uuid.uuid4().hex}'])
    assert 'accuracy/top1' in metrics


def test_channels_last_option_switches_the_preprocessor():
    """--channels-last: paper configs (mmpretrain's SelfSupDataPreprocessor)
    get BatchViewAugmentor(views=None) with the same normalisation, which
    returns the views channels-last with the same values; configs whose
    preprocessor cannot do it are refused in one line."""
    import torch
    from mmengine.config import Config

    from mmfa.registry import MODELS
    from tests.utils import load_tool
    train = load_tool('tools/train.py')
    paper = osp.join(
        ROOT, 'configs/selfsup/fa_id/'
        'parallel-predictor-nn_resnet50_8xb64-accum8-coslr-200e_in100.py')
    cfg = Config.fromfile(paper)
    before = copy.deepcopy(cfg.model.data_preprocessor)
    cfg = train.merge_args(cfg, train.parse_args([paper, '--channels-last']))
    pre = cfg.model.data_preprocessor
    assert pre.type == 'BatchViewAugmentor' and pre.views is None
    assert pre.channels_last is True
    assert (pre.mean, pre.std, pre.to_rgb) == (before.mean, before.std,
                                              before.to_rgb)
    built, ref = MODELS.build(pre), MODELS.build(before)
    views = [torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)] * 2
    got = built(dict(inputs=views, data_samples=None), True)['inputs']
    exp = ref(dict(inputs=views, data_samples=None), True)['inputs']
    for g, e in zip(got, exp):
        assert torch.equal(g, e)
        assert g.is_contiguous(memory_format=torch.channels_last)
    # the quickstart's BatchViewAugmentor keeps its views
    qs = osp.join(ROOT, 'configs/quickstart/'
                  'parallel-predictor_resnet18-w16_1xb64-coslr-45e_shapes.py')
    cfg = Config.fromfile(qs)
    cfg.model.data_preprocessor.channels_last = False
    cfg = train.merge_args(cfg, train.parse_args([qs, '--channels-last']))
    assert cfg.model.data_preprocessor.channels_last is True
    # a linear-probe config (ImageClassifier) is refused
    lin = osp.join(ROOT, 'configs/quickstart/'
                   'linear_resnet18-w16_1xb64-coslr-10e_shapes.py')
    with pytest.raises(SystemExit) as exc:
        train.merge_args(Config.fromfile(lin),
                         train.parse_args([lin, '--channels-last']))
    assert '--channels-last needs a self-supervised model' in exc.value.code
    assert len(exc.value.code.splitlines()) == 1
