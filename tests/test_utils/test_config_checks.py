# Copyright (c) mmfa contributors. All rights reserved.
"""One-line errors for bad inputs: --cfg-options values, top-level key typos and
unreadable images (with the opt-in to skip them)."""
import argparse
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

import mmfa  # noqa: F401  (installs the image-loading errors)
from mmfa.utils import config_checks
from tests.utils import ROOT
from tests.utils.log_capture import capture_current_log


def _parse(*values):
    parser = argparse.ArgumentParser(prog='tool')
    parser.add_argument('--cfg-options', nargs='+',
                        action=config_checks.DictAction)
    return parser.parse_args(['--cfg-options', *values]).cfg_options


def test_cfg_options_values():
    assert _parse('a.b=1', 'c=[1,2]', 'd=(x,y)', 'e=False') == {
        'a.b': 1, 'c': [1, 2], 'd': ('x', 'y'), 'e': False
    }
    # config-file syntax, nested, instead of ~1000 frames of recursion
    assert _parse("m.aug=dict(type='MaskFA',ratio=0.2,k=dict(a=[1,2]))") == {
        'm.aug': dict(type='MaskFA', ratio=0.2, k=dict(a=[1, 2]))
    }


@pytest.mark.parametrize('value,match', [
    ('m.aug=dict(type=MaskFA)', "cannot parse the value of m.aug: "
     "'dict\\(type=MaskFA\\)'.*m.aug.type=NAME"),
    ('a=[1,2', 'unbalanced brackets or quotes'),
    ("a='x", 'unbalanced brackets or quotes'),
    ('noequals', "expects KEY=VALUE pairs, got 'noequals'"),
])
def test_unparsable_cfg_options_are_one_line(value, match, capsys):
    with pytest.raises(SystemExit):
        _parse(value)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2  # argparse's usage line and the error
    assert err[1].startswith('tool: error: argument --cfg-options: ')
    import re
    assert re.search(match, err[1]), err[1]


def test_top_level_typos_are_errors_helpers_are_not():
    for typo, meant in (('load_form', 'load_from'), ('resum', 'resume'),
                        ('custom_hook', 'custom_hooks'),
                        ('optim_wraper', 'optim_wrapper')):
        cfg = Config({typo: 1})
        with pytest.raises(config_checks.ConfigKeyError,
                           match=f"'{typo}': did you mean '{meant}'"):
            config_checks.check_top_level_keys(cfg)
    config_checks.check_top_level_keys(
        Config(dict(data_root='x', train_pipeline=[], num_classes=3,
                    load_from=None, knn_train_dataloader={}, knn_cfg={},
                    trust_checkpoint=True, load_from_cfg={}, _load_form=1)))


def test_every_config_of_the_repository_passes_the_key_check():
    paths = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                             recursive=True))
    paths += [osp.join(ROOT, 'tests/data/tiny_fa_pretrain.py'),
              osp.join(ROOT, 'tests/data/tiny_simclr.py')]
    # one config per directory (siblings share their keys through _base_)
    by_dir = {}
    for path in paths:
        if '_base_' not in path:
            by_dir.setdefault(osp.dirname(path), path)
    known = config_checks.runner_config_keys()
    for path in by_dir.values():
        config_checks.check_top_level_keys(Config.fromfile(path), known)


def _image_results(path):
    return dict(img_path=str(path))


def test_unreadable_image_names_its_path_or_is_skipped(tmp_path, monkeypatch):
    from mmcv.transforms import LoadImageFromFile
    monkeypatch.delenv(config_checks.SKIP_IMAGES_ENV, raising=False)
    good = tmp_path / 'good.png'
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(good)
    bad = tmp_path / 'zero.jpg'
    bad.write_bytes(b'')
    assert LoadImageFromFile().transform(_image_results(good))['img'].shape == (
        4, 4, 3)
    with pytest.raises(config_checks.UnreadableImageError) as err:
        LoadImageFromFile().transform(_image_results(bad))
    message = str(err.value)
    assert message.startswith(f'Cannot read the image {bad} (')
    assert len(message.splitlines()) == 1
    # opt-in: mmcv's ignore_empty, or the environment for every pipeline
    before = config_checks._SKIPPED[0]
    with capture_current_log() as log:
        assert LoadImageFromFile(ignore_empty=True).transform(
            _image_results(bad)) is None
        monkeypatch.setenv(config_checks.SKIP_IMAGES_ENV, '1')
        assert LoadImageFromFile().transform(_image_results(bad)) is None
    assert config_checks._SKIPPED[0] == before + 2
    assert any(f'Skipped the unreadable image {bad}' in m
               and f'{before + 2} image(s) skipped' in m for m in log)


def test_one_line_error_of_a_worker_reraised_exception():
    err = config_checks.UnreadableImageError(
        'Caught UnreadableImageError in DataLoader worker process 0.\n'
        'Original Traceback (most recent call last):\n  File "x.py"\n'
        'mmfa.utils.config_checks.UnreadableImageError: Cannot read the '
        'image /d/a.jpg (x)\n')
    assert config_checks.one_line_error(err) == (
        'Cannot read the image /d/a.jpg (x)')


def test_trust_checkpoint_config_key_opts_in(monkeypatch):
    from mmfa.utils import checkpoint_trusted, setup_runtime
    monkeypatch.delenv('MMFA_TRUST_CHECKPOINT', raising=False)
    setup_runtime(Config(dict(work_dir='w')))
    assert not checkpoint_trusted()
    setup_runtime(Config(dict(work_dir='w', trust_checkpoint=True)))
    assert checkpoint_trusted()
    with pytest.raises(config_checks.ConfigKeyError, match='load_form'):
        setup_runtime(Config(dict(load_form='x.pth')))
