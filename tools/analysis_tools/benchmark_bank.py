# Copyright (c) mmfa contributors. All rights reserved.
"""Cost of the FeatureBank of the nearest-neighbour FA methods: query and enqueue
time and the query's peak extra memory over a grid of bank sizes and batches.

The NN and NN-noise feature augmentations of Zhang et al., "Feature Augmentation for
Self-supervised Contrastive Learning: A Closer Look" (arXiv:2410.12396) query a bank
of 65536 projections every step. ``FeatureBank.query`` scores the bank in chunks, so
its time grows linearly with the bank size while its extra memory stays bounded by
one (N, chunk) score buffer instead of the full (N, size) similarity matrix. This
tool measures both on a full bank (every entry written) of random unit vectors.

Per (size, batch) it reports the median query time (top-k of N queries), the time
per query-entry pair (constant when the scaling is linear), the time relative to the
smallest bank against the size ratio, the enqueue time (``enqueue``, called at the end
of the training loss) and the query's peak extra memory next to the chunk bound
and to what the full similarity matrix would take.

Example::

    python tools/analysis_tools/benchmark_bank.py --device cuda \\
        --sizes 4096 16384 65536 262144 1048576 --batches 64 256 1024 \\
        --out work_dirs/bench_bank.json
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List

import torch
import torch.nn.functional as F

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
import benchmark_utils as bu  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time FeatureBank query / enqueue and measure the query '
        'peak memory over bank sizes and batches.')
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[4096, 16384, 65536, 262144, 1048576],
                        help='bank sizes (entries)')
    parser.add_argument('--batches', type=int, nargs='+',
                        default=[64, 256, 1024],
                        help='query batch sizes N')
    parser.add_argument('--dim', type=int, default=256,
                        help='feature dimension')
    parser.add_argument('--topk', type=int, default=1,
                        help='neighbours per query (k)')
    parser.add_argument('--chunk-size', type=int, default=None,
                        help='FeatureBank query_chunk_size (default: the '
                        'bank\'s)')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed calls per cell (median reported)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed calls per cell first')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda[:i] (default: cuda if available)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None, help='write the report as JSON')
    args = parser.parse_args(argv)
    for name in ('sizes', 'batches'):
        if any(v < 1 for v in getattr(args, name)):
            parser.error(f'--{name} must be positive')
    if args.dim < 1 or args.topk < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error('--dim, --topk and --repeats must be >= 1, --warmup >= 0')
    if args.topk > min(args.sizes):
        parser.error(f'--topk {args.topk} exceeds the smallest bank '
                     f'({min(args.sizes)} entries)')
    return args


def _fill(bank, seed: int) -> None:
    """Write every entry (random unit vectors) through ``enqueue``, in chunks."""
    g = torch.Generator().manual_seed(seed)
    todo = bank.size
    while todo > 0:
        n = min(todo, 65536)
        bank.enqueue(
            F.normalize(torch.randn(n, bank.dim, generator=g),
                        dim=1).to(bank.feats.device))
        todo -= n


def bench_cell(bank, n: int, args, device) -> dict:
    g = torch.Generator().manual_seed(args.seed + n)
    queries = torch.randn(n, bank.dim, generator=g).to(device)
    new = F.normalize(torch.randn(n, bank.dim, generator=g), dim=1).to(device)

    def query():
        bank.query(queries, args.topk)

    def enqueue():
        bank.enqueue(new)

    for _ in range(args.warmup):
        query()
        enqueue()
    q_times = [bu.time_call(query, device) for _ in range(args.repeats)]
    e_times = [bu.time_call(enqueue, device) for _ in range(args.repeats)]
    with bu.PeakMemory(device) as pm:
        query()
    chunk = min(bank.query_chunk_size, int(bank.num_written))
    return dict(
        size=bank.size,
        batch=n,
        query_time=bu.summarize(q_times),
        enqueue_time=bu.summarize(e_times),
        query_ns_per_pair=bu.summarize(q_times)['median'] * 1e9 /
        (n * bank.size),
        query_peak_extra_bytes=pm.delta,
        memory_kind=pm.kind,
        chunk_bound_bytes=n * chunk * 4,
        full_matrix_bytes=n * bank.size * 4,
        bank_bytes=bank.feats.numel() * bank.feats.element_size())


def add_scaling(cells: List[dict]) -> None:
    """Query time relative to the smallest bank of the same batch, next to the
    size ratio (equal for linear scaling)."""
    for n in {c['batch'] for c in cells}:
        row = sorted((c for c in cells if c['batch'] == n),
                     key=lambda c: c['size'])
        t0, s0 = row[0]['query_time']['median'], row[0]['size']
        for c in row:
            c['time_ratio'] = c['query_time']['median'] / t0
            c['size_ratio'] = c['size'] / s0


def format_report(report: dict) -> str:
    header = [
        'bank size', 'batch N', 'query ms', 'ns / (N x entry)',
        'time x (size x)', 'enqueue ms', 'query extra MiB', 'chunk bound MiB',
        'full matrix MiB'
    ]
    rows = []
    for c in sorted(report['results'], key=lambda c: (c['batch'], c['size'])):
        rows.append([
            c['size'], c['batch'],
            f"{c['query_time']['median'] * 1e3:.2f}",
            f"{c['query_ns_per_pair']:.3f}",
            f"{c['time_ratio']:.1f} ({c['size_ratio']:.0f})",
            f"{c['enqueue_time']['median'] * 1e3:.2f}",
            bu.fmt_mib(c['query_peak_extra_bytes']),
            bu.fmt_mib(c['chunk_bound_bytes']),
            bu.fmt_mib(c['full_matrix_bytes']),
        ])
    s, m = report['settings'], report['machine']
    title = (f"FeatureBank on {s['device']} ({m.get('gpu') or m['cpu']}), "
             f"torch {m['torch']}, dim {s['dim']}, top-{s['topk']}, chunk "
             f"{s['chunk_size']}, median of {s['repeats']}")
    return title + '\n\n' + bu.markdown_table(header, rows)


def main(argv=None):
    args = parse_args(argv)
    import mmfa  # noqa: F401
    from mmfa.models.memories import FeatureBank

    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('benchmark_bank.py: --device cuda but no GPU is '
                         'visible; use --device cpu')
    if device.type == 'cuda' and device.index is None:
        device = torch.device('cuda', torch.cuda.current_device())
    if args.threads:
        torch.set_num_threads(args.threads)
    cells = []
    chunk_size = None
    for size in sorted(args.sizes):
        kwargs = dict(size=size, dim=args.dim)
        if args.chunk_size is not None:
            kwargs['query_chunk_size'] = args.chunk_size
        bank = FeatureBank(**kwargs).to(device)
        bank.train()
        chunk_size = bank.query_chunk_size
        _fill(bank, args.seed)
        for n in sorted(args.batches):
            cell = bench_cell(bank, n, args, device)
            cells.append(cell)
            print(f'size {size} batch {n}: query '
                  f"{cell['query_time']['median'] * 1e3:.2f} ms",
                  file=sys.stderr, flush=True)
        del bank
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    add_scaling(cells)
    report = dict(
        tool='benchmark_bank',
        machine=bu.machine_info(device),
        settings=dict(
            device=str(device),
            dim=args.dim,
            topk=args.topk,
            chunk_size=chunk_size,
            repeats=args.repeats,
            warmup=args.warmup),
        results=cells)
    print(format_report(report))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
