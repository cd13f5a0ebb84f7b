# Copyright (c) mmfa contributors. All rights reserved.

import pytest
import torch

import mmfa  # noqa: F401
from tests.test_benchmarks.data_utils import make_pretrain_checkpoint
from tests.utils import load_tool



def _load_tool():
    return load_tool('tools/model_converters/extract_backbone.py')


@pytest.fixture(scope='module')
def resnet50_ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('r50') / 'pretrain.pth')
    return path, make_pretrain_checkpoint(path, depth=50)


def test_mmengine_format_keeps_only_the_backbone(tmp_path, resnet50_ckpt):
    path, expected = resnet50_ckpt
    out = str(tmp_path / 'backbone.pth')
    _load_tool().main([path, out])
    saved = torch.load(out, weights_only=True)
    assert set(saved['state_dict']) == set(expected)
    for key, value in expected.items():
        assert torch.equal(saved['state_dict'][key], value), key


def test_torchvision_format_round_trips_to_identical_features(
        tmp_path, resnet50_ckpt):
    from mmpretrain.models import ResNet
    from torchvision.models import resnet50
    path, expected = resnet50_ckpt
    out = str(tmp_path / 'tv.pth')
    _load_tool().main([path, out, '--format', 'torchvision'])
    state = torch.load(out, weights_only=True)

    tv = resnet50(weights=None)
    result = tv.load_state_dict(state, strict=False)
    assert sorted(result.missing_keys) == ['fc.bias', 'fc.weight']
    assert result.unexpected_keys == []
    # every torchvision backbone tensor (key by key) comes from the checkpoint
    tv_state = tv.state_dict()
    for key in tv_state:
        if not key.startswith('fc.'):
            assert torch.equal(tv_state[key], expected[key]), key

    mm = ResNet(depth=50, out_indices=(3, ))
    mm.load_state_dict(expected)
    mm.eval()
    tv.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = mm(x)[-1]
        h = tv.maxpool(tv.relu(tv.bn1(tv.conv1(x))))
        got = tv.layer4(tv.layer3(tv.layer2(tv.layer1(h))))
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_checkpoint_without_backbone_keys_is_an_error(tmp_path):
    path = str(tmp_path / 'no_backbone.pth')
    torch.save({'state_dict': {'encoder.conv1.weight': torch.zeros(1)}}, path)
    with pytest.raises(KeyError, match='encoder.conv1.weight'):
        _load_tool().main([path, str(tmp_path / 'out.pth')])


def test_torchvision_format_rejects_non_torchvision_names():
    tool = _load_tool()
    with pytest.raises(KeyError, match='stem.0.weight'):
        tool.to_torchvision({'stem.0.weight': torch.zeros(1)})


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f'touch {self.marker}', ))


def test_a_checkpoint_that_runs_code_is_refused_unless_trusted(
        tmp_path, monkeypatch):
    monkeypatch.delenv('MMFA_TRUST_CHECKPOINT', raising=False)
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'backbone.w': torch.ones(1)},
                'x': _RunsCode(marker)}, path)
    tool = _load_tool()
    with pytest.raises(SystemExit) as exc:
        tool.main([path, str(tmp_path / 'out.pth')])
    assert 'posix.system' in exc.value.code and '--trust-checkpoint' in (
        exc.value.code)
    assert not marker.exists() and not (tmp_path / 'out.pth').exists()
    # the explicit opt-in runs it (that is what trusting means)
    tool.main([path, str(tmp_path / 'out.pth'), '--trust-checkpoint'])
    assert marker.exists()
    assert list(torch.load(str(tmp_path / 'out.pth'))['state_dict']) == ['w']
