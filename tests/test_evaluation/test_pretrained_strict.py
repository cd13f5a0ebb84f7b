# Copyright (c) mmfa contributors. All rights reserved.
import pytest
import torch
from mmengine.registry import DefaultScope

import mmfa  # noqa: F401
from mmfa.evaluation import load_pretrained_strict
from tests.test_benchmarks.data_utils import make_pretrain_checkpoint


def _resnet18(**kwargs):
    from mmpretrain.models import ResNet
    return ResNet(depth=18, out_indices=(3, ), **kwargs)


@pytest.fixture
def pretrain_ckpt(tmp_path):
    path = str(tmp_path / 'pretrain.pth')
    return path, make_pretrain_checkpoint(path, depth=18)


def _assert_equal_state(module, expected):
    own = module.state_dict()
    for key, value in expected.items():
        assert torch.equal(own[key], value), key


def test_loads_backbone_prefix_and_ignores_other_entries(pretrain_ckpt):
    path, expected = pretrain_ckpt
    model = _resnet18()
    loaded = load_pretrained_strict(model, path, prefix='backbone.')
    assert len(loaded) == len(expected)
    _assert_equal_state(model, expected)


def test_loads_extracted_state_dict_without_prefix(tmp_path, pretrain_ckpt):
    _, expected = pretrain_ckpt
    path = str(tmp_path / 'extracted.pth')
    torch.save({'state_dict': expected}, path)
    model = _resnet18()
    load_pretrained_strict(model, path, prefix='backbone.')
    _assert_equal_state(model, expected)


def test_no_matching_key_is_an_error_naming_the_found_keys(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save(
        {
            'state_dict': {
                'encoder.conv.weight': torch.zeros(2),
                'projector.fc.bias': torch.zeros(2)
            }
        }, path)
    with pytest.raises(RuntimeError, match='no weights for ResNet') as err:
        load_pretrained_strict(_resnet18(), path)
    assert 'encoder.conv.weight' in str(err.value)
    assert 'projector.fc.bias' in str(err.value)


def test_partial_checkpoint_reports_missing_keys(tmp_path, pretrain_ckpt):
    _, expected = pretrain_ckpt
    partial = {
        f'backbone.{k}': v
        for k, v in expected.items() if not k.startswith('layer4.')
    }
    path = str(tmp_path / 'partial.pth')
    torch.save({'state_dict': partial}, path)
    with pytest.raises(RuntimeError, match='lacks') as err:
        load_pretrained_strict(_resnet18(), path)
    assert 'layer4.0.conv1.weight' in str(err.value)
    # allowed prefixes may stay missing
    model = _resnet18()
    load_pretrained_strict(model, path, allow_missing=['layer4.'])
    _assert_equal_state(model, {
        k: v
        for k, v in expected.items() if not k.startswith('layer4.')
    })


def test_shape_mismatch_is_an_error(tmp_path, pretrain_ckpt):
    _, expected = pretrain_ckpt
    bad = dict(expected)
    bad['conv1.weight'] = torch.zeros(64, 3, 3, 3)
    path = str(tmp_path / 'bad.pth')
    torch.save(bad, path)  # a plain state dict is accepted too
    with pytest.raises(RuntimeError, match='shape mismatch'):
        load_pretrained_strict(_resnet18(), path)


def test_missing_checkpoint_path_is_explained():
    with pytest.raises(ValueError, match='init_cfg.checkpoint'):
        load_pretrained_strict(_resnet18(), None)


def test_init_cfg_type_in_mmfa_scope_keeps_loaded_residual_bn(pretrain_ckpt):
    """``type='PretrainedStrict'`` via init_cfg: mmpretrain's ResNet would zero the
    last BN of each block (zero_init_residual=True) after a non-'Pretrained'
    initialiser; the loaded weights must survive."""
    from mmfa.registry import MODELS
    path, expected = pretrain_ckpt
    assert expected['layer1.0.bn2.weight'].abs().min() > 0
    with DefaultScope.overwrite_default_scope('mmfa'):
        model = MODELS.build(
            dict(
                type='ResNet',
                depth=18,
                out_indices=(3, ),
                init_cfg=dict(
                    type='PretrainedStrict',
                    checkpoint=path,
                    prefix='backbone.')))
        assert model.zero_init_residual
        model.init_weights()
    _assert_equal_state(model, expected)


def test_init_cfg_type_raises_for_a_wrong_checkpoint(tmp_path):
    from mmfa.registry import MODELS
    path = str(tmp_path / 'wrong.pth')
    torch.save({'state_dict': {'head.fc.weight': torch.zeros(3, 3)}}, path)
    with DefaultScope.overwrite_default_scope('mmfa'):
        model = MODELS.build(
            dict(
                type='ResNet',
                depth=18,
                init_cfg=dict(type='PretrainedStrict', checkpoint=path)))
        with pytest.raises(RuntimeError, match='head.fc.weight'):
            model.init_weights()


def test_no_matching_key_names_the_closest_prefixes(tmp_path):
    model = _resnet18()
    path = str(tmp_path / 'encoder.pth')
    torch.save({'state_dict': {f'encoder.{k}': v
                               for k, v in model.state_dict().items()}}, path)
    with pytest.raises(RuntimeError, match="closest prefixes: checkpoint "
                       "'encoder.\\*' -> model '\\*' would match"):
        load_pretrained_strict(_resnet18(), path)
