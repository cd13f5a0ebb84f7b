# Copyright (c) mmfa contributors. All rights reserved.
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

import mmfa  # noqa: F401
from mmfa.models.memories import FeatureBank
from mmfa.registry import MODELS
from tests.utils.dist import run_distributed


def _brute_force_topk(bank_rows, queries, k):
    """Independent reference: full similarity matrix over the written rows."""
    sims = F.normalize(queries, dim=1) @ F.normalize(bank_rows, dim=1).t()
    vals, idx = sims.sort(dim=1, descending=True)
    return vals[:, :k], idx[:, :k]


def _ring_reference(size, batches):
    """Write items one at a time into a python list ring: the expected bank."""
    slots = [None] * size
    ptr = written = 0
    for batch in batches:
        for row in batch:
            slots[ptr] = row
            ptr = (ptr + 1) % size
            written = min(size, written + 1)
    return slots, ptr, written


def test_build_from_registry_and_buffers():
    bank = MODELS.build(dict(type='FeatureBank', size=7, dim=3))
    assert isinstance(bank, FeatureBank)
    state = bank.state_dict()
    assert set(state) == {'feats', 'ptr', 'num_written'}
    assert state['feats'].shape == (7, 3)
    assert state['ptr'].dtype == torch.long and state['ptr'].dim() == 0
    assert bank.fill_ratio == 0
    with pytest.raises(ValueError, match='size'):
        FeatureBank(size=0, dim=3)


@pytest.mark.parametrize('chunk_size', [1, 3, 7, 64])
def test_query_equals_brute_force(chunk_size):
    g = torch.Generator().manual_seed(0)
    bank = FeatureBank(size=50, dim=8)
    rows = torch.randn(30, 8, generator=g)
    bank.enqueue(rows)
    queries = torch.randn(6, 8, generator=g) * 3  # not normalised: query does it
    sims, neighbours = bank.query(queries, k=5, chunk_size=chunk_size)
    ref_vals, ref_idx = _brute_force_topk(rows, queries, 5)
    assert sims.shape == (6, 5) and neighbours.shape == (6, 5, 8)
    torch.testing.assert_close(sims, ref_vals)
    torch.testing.assert_close(neighbours, F.normalize(rows, dim=1)[ref_idx])
    # the mean top-1 similarity of the last query is recorded for the hook
    assert bank.last_top1_sim == pytest.approx(ref_vals[:, 0].mean().item())


def test_unwritten_entries_never_returned():
    bank = FeatureBank(size=20, dim=4)
    query = torch.tensor([[1., 0., 0., 0.]])
    # all written entries point away from the query: the 17 zero (unwritten)
    # entries have a higher similarity (0) and would win if they were considered
    rows = torch.tensor([[-1., 0.1, 0., 0.], [-1., 0., 0.2, 0.], [-1., 0, 0, .3]])
    bank.enqueue(rows)
    sims, neighbours = bank.query(query, k=3)
    assert (sims < 0).all()
    ref_vals, ref_idx = _brute_force_topk(rows, query, 3)
    torch.testing.assert_close(neighbours[0], F.normalize(rows, dim=1)[ref_idx[0]])
    with pytest.raises(ValueError, match='holds 3 written entries'):
        bank.query(query, k=4)


def test_wrap_around_order_and_overflow():
    size, dim = 5, 2
    g = torch.Generator().manual_seed(1)
    batches = [torch.randn(n, dim, generator=g) for n in (3, 3, 1, 12, 4)]
    bank = FeatureBank(size=size, dim=dim)
    for i, batch in enumerate(batches):
        bank.enqueue(batch)
        slots, ptr, written = _ring_reference(size, batches[:i + 1])
        assert int(bank.ptr) == ptr and int(bank.num_written) == written
        for j, row in enumerate(slots):
            expected = torch.zeros(dim) if row is None else F.normalize(row, dim=0)
            torch.testing.assert_close(bank.feats[j], expected)
    assert bank.fill_ratio == 1.0


def test_query_then_enqueue_and_no_self_neighbour():
    g = torch.Generator().manual_seed(2)
    bank = FeatureBank(size=100, dim=16)
    old = torch.randn(10, 16, generator=g)
    bank.enqueue(old)
    batch = torch.randn(4, 16, generator=g, requires_grad=True)
    # query before enqueue (the order within a step): only older entries come back
    sims, neighbours = bank.query(batch, k=3)
    ref_vals, ref_idx = _brute_force_topk(old, batch.detach(), 3)
    torch.testing.assert_close(neighbours, F.normalize(old, dim=1)[ref_idx])
    assert (sims < 1 - 1e-4).all()
    kept = neighbours.clone()
    assert bank.enqueue(batch * 2) == 4
    assert int(bank.num_written) == 14 and bank.num_received == 14
    # the queried neighbours are copies: the later write did not change them
    assert torch.equal(neighbours, kept)
    # stored detached and l2-normalised
    assert not bank.feats.requires_grad
    torch.testing.assert_close(bank.feats[10:14],
                               F.normalize(batch.detach(), dim=1))
    # after the enqueue the sample is its own nearest neighbour
    sims, _ = bank.query(batch, k=1)
    torch.testing.assert_close(sims[:, 0], torch.ones(4))


def test_enqueue_is_noop_in_eval_mode():
    bank = FeatureBank(size=10, dim=3)
    bank.eval()
    with torch.no_grad():
        assert bank.enqueue(torch.randn(2, 3)) == 0
        assert bank.enqueue(torch.randn(2, 3)) == 0
    assert int(bank.num_written) == 0 and int(bank.ptr) == 0
    assert not bank.feats.any() and bank.num_received == 0
    bank.train()
    assert bank.enqueue(torch.randn(2, 3)) == 2 and int(bank.num_written) == 2


def test_dim_mismatch_is_reported():
    bank = FeatureBank(size=10, dim=3)
    with pytest.raises(ValueError, match='dim=4'):
        bank.enqueue(torch.randn(2, 4))
    bank.enqueue(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r'\(N, 3\)'):
        bank.query(torch.randn(2, 4), k=1)


def test_state_dict_round_trip():
    bank = FeatureBank(size=6, dim=3)
    bank.enqueue(torch.randn(8, 3))
    other = FeatureBank(size=6, dim=3)
    other.load_state_dict(bank.state_dict())
    assert torch.equal(other.feats, bank.feats)
    assert int(other.ptr) == 2 and int(other.num_written) == 6


def _status_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def test_million_entry_query_peak_memory():
    """Query 512 features against a full 1,000,000 x 256 bank.

    Stated bound: the query's extra peak memory is one (N, chunk) float32 score
    buffer (the default budget, query_chunk_bytes = 64 MiB) plus small top-k
    buffers; we allow 2x that plus 64 MiB of slack (192 MiB). Scoring the whole
    bank at once would need N * size * 4 bytes = 1.9 GiB. Measured as the growth of
    the peak RSS of this process across the query, after resetting the kernel's
    high-water mark (/proc/self/clear_refs, Linux >= 4.0) with the bank resident.
    """
    if not osp.exists('/proc/self/clear_refs'):
        pytest.skip('needs Linux /proc/self/clear_refs to reset the peak RSS')
    size, dim, n, k = 1_000_000, 256, 512, 5
    g = torch.Generator().manual_seed(0)
    block = F.normalize(torch.randn(1000, dim, generator=g), dim=1)
    queries = torch.randn(n, dim, generator=g)
    # warm-up on a small bank, so library workspaces are not counted
    small = FeatureBank(size=40_000, dim=dim)
    small.enqueue(block.repeat(40, 1))
    small.query(queries, k)
    del small
    bank = FeatureBank(size=size, dim=dim)
    # a full bank, entry i = block[i % 1000]: cheap to fill, every page resident
    bank.feats.view(size // 1000, 1000, dim).copy_(
        block.expand(size // 1000, 1000, dim))
    bank.num_written.fill_(size)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset the peak RSS to the current RSS
    before = _status_kib('VmRSS')
    sims, neighbours = bank.query(queries, k)
    assert bank.query_chunk_bytes // (4 * n) < size  # it did chunk
    peak_delta = (_status_kib('VmHWM') - before) * 1024
    bound = 2 * bank.query_chunk_bytes + 64 * 2**20
    assert bound < n * size * 4 / 4  # the bound separates from brute force
    assert peak_delta < bound, (peak_delta / 2**20, bound / 2**20)
    # and the result is right: the best of the 1000 distinct rows, k ties
    ref = (F.normalize(queries, dim=1) @ block.t()).max(dim=1).values
    torch.testing.assert_close(sims, ref[:, None].expand(n, k))
    assert neighbours.shape == (n, k, dim)


def _two_rank_bank(rank, world_size):
    """Each rank enqueues distinct features; returns the bank after each step."""
    dim = 4
    bank = FeatureBank(size=7, dim=dim)
    sizes = [3, 2]  # unequal on purpose
    results = {}
    for step in range(3):
        # step 1: rank 1 has an empty batch but must take part in the gather
        n = 0 if (step == 1 and rank == 1) else sizes[rank]
        feats = torch.full((n, dim), 0.)
        feats[:, 0] = 1
        feats[:, 1] = 100 * step + 10 * rank + torch.arange(n)  # identifiable
        results[f'written{step}'] = bank.enqueue(feats)
        results[f'feats{step}'] = bank.feats.clone()
        results[f'ptr{step}'] = int(bank.ptr)
        results[f'num_written{step}'] = int(bank.num_written)
    return results


def test_two_process_bank_is_identical_and_rank_ordered(tmp_path):
    res = run_distributed(_two_rank_bank, tmp_path, world_size=2)
    # expected: everything enqueued, in (step, rank, index) order, into a ring of 7
    batches = []
    for step in range(3):
        rows = []
        for rank, n in enumerate([3, 2]):
            n = 0 if (step == 1 and rank == 1) else n
            for i in range(n):
                rows.append(F.normalize(
                    torch.tensor([1., 100 * step + 10 * rank + i, 0., 0.]), dim=0))
        batches.append(rows)
        slots, ptr, written = _ring_reference(7, batches)
        expected = torch.stack(
            [torch.zeros(4) if r is None else r for r in slots])
        for rank in range(2):
            assert res[rank][f'written{step}'] == len(rows)
            assert res[rank][f'ptr{step}'] == ptr
            assert res[rank][f'num_written{step}'] == written
            torch.testing.assert_close(res[rank][f'feats{step}'], expected)
    assert torch.equal(res[0]['feats2'], res[1]['feats2'])


def test_host_count_follows_enqueue_and_checkpoints():
    """written_entries (read without a device sync on GPU) tracks the buffer."""
    bank = FeatureBank(size=5, dim=3)
    bank.enqueue(torch.randn(3, 3))
    bank.enqueue(torch.randn(4, 3))
    assert bank._num_written_host == int(bank.num_written) == 5
    other = FeatureBank(size=5, dim=3)
    other.load_state_dict(bank.state_dict())
    assert other._num_written_host == 5 and other.written_entries == 5
    # Default chunking: the score buffer fits query_chunk_bytes.
    small_budget = FeatureBank(size=64, dim=3, query_chunk_bytes=4 * 8 * 10)
    small_budget.enqueue(torch.randn(64, 3))
    q = torch.randn(8, 3)
    sims, _ = small_budget.query(q, 3)  # 10 entries per chunk, 7 chunks
    ref = (F.normalize(q, dim=1) @ small_budget.feats.t()).topk(3).values
    torch.testing.assert_close(sims, ref)


def test_bank_stays_fp32_and_topk_exact_under_autocast():
    """Under mixed precision (bf16 autocast, as AmpOptimWrapper runs the forward)
    the bank keeps fp32 entries and ranks neighbours in fp32: the top-k equals an
    fp32 reference even for near-ties that bf16 scores would reorder."""
    import torch.nn.functional as F

    from mmfa.models.memories import FeatureBank
    gen = torch.Generator().manual_seed(0)
    bank = FeatureBank(size=512, dim=32, query_chunk_size=100)
    base = F.normalize(torch.randn(8, 32, generator=gen), dim=1)
    # near-ties: entries that differ from a query direction by ~1e-3 in cosine,
    # far below bf16's resolution (~4e-3 near 1)
    entries = F.normalize(
        base.repeat_interleave(64, 0) +
        1e-2 * torch.randn(512, 32, generator=gen), dim=1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        bank.train()
        bank.enqueue(entries.to(torch.bfloat16))
    assert bank.feats.dtype == torch.float32
    # entries were rounded to bf16 on the way in (what the model produced), then
    # kept in fp32: the reference scores what the bank holds
    held = F.normalize(entries.to(torch.bfloat16).float(), dim=1)
    assert torch.allclose(bank.feats, held, atol=1e-6)
    queries = F.normalize(base + 1e-2 * torch.randn(8, 32, generator=gen), dim=1)
    ref_vals, ref_idx = (queries @ held.t()).topk(5, dim=1)
    low_vals, low_idx = (queries.bfloat16() @ held.bfloat16().t()).float().topk(
        5, dim=1)
    assert not torch.equal(low_idx, ref_idx)  # bf16 ranking would differ
    with torch.autocast('cpu', dtype=torch.bfloat16):
        vals, neigh = bank.query(queries, k=5)
    assert vals.dtype == torch.float32
    assert torch.allclose(vals, ref_vals, atol=1e-6)
    # the neighbours are the fp32 top-k (up to exact ties at float rounding)
    assert neigh.dtype == torch.float32
    assert torch.allclose((queries[:, None] * neigh).sum(-1), ref_vals,
                          atol=1e-6)
    assert (neigh - held[ref_idx]).abs().amax(-1).lt(1e-6).float().mean() > 0.9
    # bf16 queries come back as bf16 neighbours of the fp32 ranking
    with torch.autocast('cpu', dtype=torch.bfloat16):
        vals16, neigh16 = bank.query(queries.bfloat16(), k=5)
    assert neigh16.dtype == torch.bfloat16
