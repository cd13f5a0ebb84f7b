# Copyright (c) mmfa contributors. All rights reserved.
import pytest
import torch

import mmfa  # noqa: F401
from mmfa.models.augmenters import (BaseFeatureAugmenter, MaskFA, MixupNoiseFA,
                                    NearestNeighborFA, build_augmenter,
                                    registered_augmenters)
from mmfa.models.memories import FeatureBank

FA_CFGS = [
    dict(type='MaskFA', ratio=0.3, num_aug=2),
    dict(type='MixupNoiseFA', noise='gaussian', num_aug=2),
    dict(type='MixupNoiseFA', noise='batch', num_aug=2),
]


def _inputs():
    g = torch.Generator().manual_seed(123)
    return torch.nn.functional.normalize(torch.randn(16, 32, generator=g), dim=1)


@pytest.mark.parametrize('cfg', FA_CFGS, ids=lambda c: str(c.get('noise', c['type'])))
def test_same_seed_same_output_other_seed_differs(cfg):
    x = _inputs()
    torch.manual_seed(0)
    a = build_augmenter(dict(cfg))
    torch.manual_seed(0)
    b = build_augmenter(dict(cfg))
    out_a1, out_b1 = a(x), b(x)
    assert out_a1.shape == (16, 2, 32)
    assert torch.equal(out_a1, out_b1)
    # the streams advance identically, and do not repeat
    out_a2, out_b2 = a(x), b(x)
    assert torch.equal(out_a2, out_b2)
    assert not torch.equal(out_a1, out_a2)
    torch.manual_seed(1)
    c = build_augmenter(dict(cfg))
    assert not torch.equal(c(x), out_a1)


def test_own_generator_leaves_global_rng_alone():
    x = _inputs()
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    aug = MixupNoiseFA(noise='gaussian', num_aug=3)
    aug(x)
    MaskFA()(x)
    assert torch.equal(torch.rand(3), expected)


def test_generator_seeded_from_initial_seed_and_rank():
    torch.manual_seed(42)
    aug = MaskFA()
    gen = aug.generator('cpu')
    assert gen.initial_seed() == 42  # rank 0 of a single process
    assert aug.generator(torch.device('cpu')) is gen


def test_build_augmenter_lists_valid_types():
    names = registered_augmenters()
    assert {'MaskFA', 'MixupNoiseFA', 'NearestNeighborFA'} <= set(names)
    with pytest.raises(KeyError) as err:
        build_augmenter(dict(type='MaskFa'))
    for name in ('MaskFA', 'MixupNoiseFA', 'NearestNeighborFA'):
        assert name in str(err.value)
    assert 'MaskFa' in str(err.value)
    with pytest.raises(TypeError, match='not a feature augmenter'):
        build_augmenter(dict(type='FeatureBank'))
    # a misspelt type nested in the FA config is reported too
    with pytest.raises(KeyError, match='FeatureBnak'):
        build_augmenter(dict(type='NearestNeighborFA', bank=dict(type='FeatureBnak')))


def test_build_augmenter_builds_and_passes_through():
    aug = build_augmenter(dict(type='MaskFA', ratio=0.1))
    assert isinstance(aug, MaskFA) and aug.ratio == 0.1
    assert build_augmenter(aug) is aug
    assert build_augmenter(None) is None


def test_requires_bank_and_bank_ownership():
    assert not MaskFA.requires_bank and MaskFA().bank is None
    gauss = MixupNoiseFA(noise='gaussian')
    assert not gauss.requires_bank and gauss.bank is None
    assert not any(k.startswith('bank') for k in gauss.state_dict())
    for aug in (NearestNeighborFA(bank=dict(type='FeatureBank', size=8, dim=4)),
                MixupNoiseFA(noise='nn', bank=dict(type='FeatureBank', size=8, dim=4))):
        assert aug.requires_bank
        assert isinstance(aug.bank, FeatureBank) and aug.bank.size == 8
        assert 'bank.feats' in aug.state_dict()


def test_bad_input_errors():
    with pytest.raises(ValueError, match='num_aug'):
        MaskFA(num_aug=0)
    with pytest.raises(ValueError, match=r'\(N, D\)'):
        MaskFA()(torch.randn(2, 3, 4))
    assert issubclass(MaskFA, BaseFeatureAugmenter)
    with pytest.raises(NotImplementedError):
        BaseFeatureAugmenter()(torch.randn(2, 3))
