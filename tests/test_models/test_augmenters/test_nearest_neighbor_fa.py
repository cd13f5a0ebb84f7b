# Copyright (c) mmfa contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F

import mmfa  # noqa: F401
from mmfa.models.augmenters import NearestNeighborFA
from tests.utils.log_capture import capture_current_log


def _bank_cfg(size=64, dim=16):
    return dict(type='FeatureBank', size=size, dim=dim)


def test_copies_are_brute_force_top_k_in_order():
    g = torch.Generator().manual_seed(0)
    aug = NearestNeighborFA(topk=3, bank=_bank_cfg())
    assert aug.num_aug == aug.topk == 3
    rows = torch.randn(40, 16, generator=g)
    aug.bank.enqueue(rows)
    x = F.normalize(torch.randn(5, 16, generator=g), dim=1).requires_grad_()
    out = aug(x)
    assert out.shape == (5, 3, 16)
    bank_rows = F.normalize(rows, dim=1)
    order = (x.detach() @ bank_rows.t()).argsort(dim=1, descending=True)
    torch.testing.assert_close(out, bank_rows[order[:, :3]])
    assert not out.requires_grad  # neighbours are detached bank entries


def test_fallback_until_bank_holds_topk_entries_logged_once():
    aug = NearestNeighborFA(topk=4, bank=_bank_cfg())
    x = F.normalize(torch.randn(6, 16), dim=1)
    with capture_current_log() as messages:
        for _ in range(3):
            out = aug(x)
            assert torch.equal(out, x.unsqueeze(1).repeat(1, 4, 1))
            aug.bank.enqueue(torch.randn(1, 16))  # 1, 2, 3 entries: still < 4
        fallback = [m for m in messages if 'un-augmented' in m]
        assert len(fallback) == 1 and '0 < 4' in fallback[0]
        aug.bank.enqueue(torch.randn(1, 16))  # 4 entries
        out = aug(x)
        assert not torch.equal(out, x.unsqueeze(1).repeat(1, 4, 1))
        assert sum('active' in m for m in messages) == 1


def test_fallback_while_query_disabled_by_warmup():
    aug = NearestNeighborFA(topk=1, bank=_bank_cfg())
    aug.bank.enqueue(torch.randn(64, 16))
    aug.bank.query_enabled = False
    x = F.normalize(torch.randn(3, 16), dim=1)
    with capture_current_log() as messages:
        assert torch.equal(aug(x), x.unsqueeze(1))
    assert any('warm-up' in m for m in messages)
    aug.bank.query_enabled = True
    assert not torch.equal(aug(x), x.unsqueeze(1))


def test_topk_num_aug_alias():
    assert NearestNeighborFA(num_aug=2, bank=_bank_cfg()).topk == 2
    assert NearestNeighborFA(bank=_bank_cfg()).topk == 1
    with pytest.raises(ValueError, match='disagree'):
        NearestNeighborFA(topk=2, num_aug=3, bank=_bank_cfg())


def test_bank_dim_mismatch_is_reported():
    aug = NearestNeighborFA(bank=_bank_cfg(dim=16))
    aug.bank.enqueue(torch.randn(4, 16))
    with pytest.raises(ValueError, match='dim=8'):
        aug(torch.randn(2, 8))
