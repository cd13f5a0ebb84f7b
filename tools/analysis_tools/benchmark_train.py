# Copyright (c) mmfa contributors. All rights reserved.
"""Training-step cost of mmfa configs against their baselines, measured side by side.

Feature augmentation (Zhang et al., "Feature Augmentation for Self-supervised
Contrastive Learning: A Closer Look", arXiv:2410.12396) is meant to be cheap: extra
positives in feature space, no extra forward pass. This tool measures what it costs
per training step, compared with the same layout without FA and with mmpretrain's
SimCLR / BYOL at equal settings.

Each config's model is built as the Runner builds it (``MODELS.build`` +
``init_weights``; SyncBN reverted to BN, which is what SyncBN computes in a single
process), its optimizer wrapper with mmengine's ``build_optim_wrapper``, and its
``FeatureBankHook`` from ``custom_hooks``. A step is exactly a Runner iteration's
work: ``model.train_step(data, optim_wrapper)`` (preprocessing, forward, loss,
backward, optimizer step; the training loss enqueues into the feature bank), the
bank hook's ``after_train_iter`` (warm-up switch and logging), and reading the logged
scalars (the message hub's ``.item()``, a host synchronisation).

The configs are timed INTERLEAVED: after a warm-up, each of ``--repeats`` rounds runs
``--iters`` steps of every config in turn (the order rotates each round), so slow
drift of the machine (clock, other load) hits every config alike. The report gives,
per config, the median and IQR of the step time, the phases (preprocess, forward,
backward, optimizer, FA, bank query, bank enqueue), the peak memory of one step
measured alone, and the ratios against the first config: the ratio of the medians
and the median of the per-round paired ratios.

Examples::

    # FA methods against the no-FA Parallel-predictor layout, on GPU
    python tools/analysis_tools/benchmark_train.py \\
        configs/selfsup/fa_id/parallel-predictor_resnet50_8xb64-accum8-coslr-200e_in100.py \\
        --compare configs/selfsup/fa_id/parallel-predictor-mask_resnet50_8xb64-accum8-coslr-200e_in100.py \\
        --device cuda --out work_dirs/bench_train.json

    # time data loading too, on generated JPEGs
    python tools/analysis_tools/benchmark_train.py CONFIG --real-data \\
        --generate-images 256 --num-workers 4
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.config import DictAction

_HERE = osp.dirname(osp.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
import benchmark_utils as bu  # noqa: E402

PHASES = ('preprocess', 'forward', 'backward', 'optimizer', 'fa', 'bank_query',
          'bank_enqueue')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time training steps of mmfa configs, interleaved, and '
        'report each one against the first.')
    parser.add_argument('config', help='the reference config (ratios are '
                        'relative to it)')
    parser.add_argument(
        '--compare', nargs='+', default=[], metavar='CONFIG',
        help='configs timed against the reference')
    parser.add_argument(
        '--batch-size', type=int, default=None,
        help='images per view and step (default: the config\'s '
        'train_dataloader.batch_size)')
    parser.add_argument(
        '--img-size', type=int, default=None,
        help='side of the synthetic views (default: the crop size of the '
        'config\'s pipeline, 224 if none is found)')
    parser.add_argument('--iters', type=int, default=5,
                        help='steps of each config per round')
    parser.add_argument('--warmup', type=int, default=3,
                        help='untimed steps of each config first')
    parser.add_argument('--repeats', type=int, default=5,
                        help='interleaved rounds')
    parser.add_argument(
        '--memory-steps', type=int, default=1,
        help='steps of each config run alone to measure its peak memory '
        '(0: no memory measurement)')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda[:i] (default: cuda if available)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch\'s)')
    parser.add_argument(
        '--bank-fill', type=float, default=1.0,
        help='fraction of every FeatureBank filled with random unit vectors '
        'before timing, so the NN query costs what it costs in steady-state '
        'training (default 1.0, a full bank)')
    parser.add_argument(
        '--keep-accumulation', action='store_true',
        help='keep the config\'s gradient accumulation (default: every step '
        'updates, so every timed step has the same work)')
    parser.add_argument('--amp', action='store_true',
                        help='AmpOptimWrapper (bf16 where the GPU supports it, '
                        'else fp16 with a dynamic loss scale; GPU)')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last views, as tools/train.py '
                        '--channels-last (the data preprocessor converts them)')
    parser.add_argument(
        '--cudnn-benchmark', choices=['config', 'on', 'off'], default='config',
        help='torch.backends.cudnn.benchmark (default: the first config\'s '
        'env_cfg.cudnn_benchmark)')
    parser.add_argument(
        '--real-data', action='store_true',
        help='feed the steps from each config\'s train_dataloader and time '
        'data loading separately (data_time)')
    parser.add_argument(
        '--data-dir', default=None,
        help='with --real-data: use a folder of images (CustomDataset, no '
        'labels) with the config\'s pipeline instead of its dataset')
    parser.add_argument(
        '--generate-images', type=int, default=0, metavar='N',
        help='with --real-data: write N generated JPEGs (256-500 px) to a temp '
        'dir and use it as --data-dir')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='with --real-data: data-loader workers')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        help='override keys of every config, e.g. '
        'model.head.augmenter.num_aug=4 (mmengine DictAction syntax)')
    parser.add_argument(
        '--profile', default=None, metavar='DIR',
        help='after timing, profile 2 steps of each config with '
        'torch.profiler and write its op table to DIR/<config>.txt')
    parser.add_argument('--out', default=None, help='write the report as JSON')
    args = parser.parse_args(argv)
    for name in ('iters', 'repeats'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0 or args.memory_steps < 0:
        parser.error('--warmup and --memory-steps must be >= 0')
    if not 0 <= args.bank_fill <= 1:
        parser.error('--bank-fill is a fraction in [0, 1]')
    if (args.data_dir or args.generate_images) and not args.real_data:
        parser.error('--data-dir / --generate-images need --real-data')
    return args


def resolve_device(name: Optional[str]) -> torch.device:
    if name is None:
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    device = torch.device(name)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('benchmark_train.py: --device cuda but no GPU is '
                         'visible; use --device cpu')
    if device.type not in ('cpu', 'cuda'):
        raise SystemExit(f'benchmark_train.py: unsupported device {name!r}; '
                         'use cpu or cuda')
    if device.type == 'cuda' and device.index is None:
        device = torch.device('cuda', torch.cuda.current_device())
    return device


def load_config(path: str, cfg_options: Optional[dict]):
    from mmengine.config import Config
    if not osp.isfile(path):
        raise SystemExit(f'benchmark_train.py: config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg or 'optim_wrapper' not in cfg:
        raise SystemExit(f'benchmark_train.py: {path} has no model or no '
                         'optim_wrapper; give a training config')
    return cfg


def _find(pipeline, type_name):
    """Transforms of ``type_name`` anywhere in a (nested) pipeline."""
    found = []
    if isinstance(pipeline, dict):
        if pipeline.get('type') == type_name:
            found.append(pipeline)
        for v in pipeline.values():
            if isinstance(v, (list, tuple, dict)):
                found += _find(v, type_name)
    elif isinstance(pipeline, (list, tuple)):
        for v in pipeline:
            found += _find(v, type_name)
    return found


def infer_inputs(cfg) -> Dict[str, int]:
    """Number of views, crop size and batch size of the config's pipeline."""
    loader = cfg.get('train_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline') or []
    num_views = 2
    views = _find(pipeline, 'MultiView')
    if views:
        nv = views[0]['num_views']
        num_views = nv if isinstance(nv, int) else int(sum(nv))
    img_size = None
    for t in _find(pipeline, 'RandomResizedCrop'):
        scale = t.get('scale', t.get('size'))
        img_size = scale if isinstance(scale, int) else int(scale[-1])
        break
    return dict(
        num_views=num_views,
        img_size=img_size or 224,
        batch_size=loader.get('batch_size') or 32)


def _short(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


class _HookRunner:
    """The attributes of a Runner that FeatureBankHook reads."""

    def __init__(self, model, message_hub):
        self.model = model
        self.message_hub = message_hub
        self.iter = 0


class ConfigBench:
    """One config's model, optimizer wrapper, hooks, input and measurements."""

    def __init__(self, name: str, path: str, cfg, args, device: torch.device,
                 message_hub, data_dir: Optional[str]) -> None:
        from mmengine.model import revert_sync_batchnorm
        from mmengine.optim import build_optim_wrapper

        from mmfa.models.augmenters import BaseFeatureAugmenter
        from mmfa.models.memories import FeatureBank
        from mmfa.registry import HOOKS, MODELS

        self.name, self.path, self.device = name, path, device
        shape = infer_inputs(cfg)
        self.num_views = shape['num_views']
        self.img_size = args.img_size or shape['img_size']
        self.batch_size = args.batch_size or shape['batch_size']

        torch.manual_seed(args.seed)
        model_cfg = copy.deepcopy(cfg.model)
        if args.channels_last:
            # what tools/train.py --channels-last does: NHWC views, which the
            # convolutions keep
            from mmfa.utils.channels_last import channels_last_preprocessor
            try:
                channels_last_preprocessor(model_cfg)
            except ValueError as e:
                raise SystemExit(f'benchmark_train.py: {name}: {e}')
        model = MODELS.build(model_cfg)
        model.init_weights()
        # One process: SyncBN computes plain BN (and BN runs on CPU).
        model = revert_sync_batchnorm(model).to(device)
        model.train()
        self.model = model

        ow_cfg = copy.deepcopy(cfg.optim_wrapper)
        if not args.keep_accumulation:
            ow_cfg.pop('accumulative_counts', None)
        if args.amp:
            from mmfa.utils.amp import amp_optim_wrapper
            amp_optim_wrapper(ow_cfg)
        self.optim_wrapper = build_optim_wrapper(model, ow_cfg)
        if args.keep_accumulation:
            self.optim_wrapper.initialize_count_status(model, 0, 10**9)

        self.banks = [m for m in model.modules() if isinstance(m, FeatureBank)]
        self.augmenters = [
            m for m in model.modules() if isinstance(m, BaseFeatureAugmenter)
        ]
        hook_cfgs = [
            h for h in cfg.get('custom_hooks', []) or []
            if h.get('type') in ('FeatureBankHook', 'mmfa.FeatureBankHook')
        ]
        if not hook_cfgs and self.banks:
            hook_cfgs = [dict(type='FeatureBankHook')]
        self.runner = _HookRunner(model, message_hub)
        self.hooks = [HOOKS.build(copy.deepcopy(h)) for h in hook_cfgs]
        for hook in self.hooks:
            hook.before_train(self.runner)
        self._fill_banks(args.bank_fill, args.seed)

        # Phase timers, wrapped around the very methods a Runner step calls.
        self.timer = bu.PhaseTimer(device)
        self.timer.wrap(model.data_preprocessor, 'forward', 'preprocess')
        self.timer.wrap(model, '_run_forward', 'forward')
        self.timer.wrap(self.optim_wrapper, 'backward', 'backward')
        self.timer.wrap(self.optim_wrapper, 'step', 'optimizer')
        self.timer.wrap(self.optim_wrapper, 'zero_grad', 'optimizer')
        for aug in self.augmenters:
            self.timer.wrap(aug, 'forward', 'fa')
        for bank in self.banks:
            self.timer.wrap(bank, 'query', 'bank_query')
            # the enqueue at the end of the training loss (phase key kept)
            self.timer.wrap(bank, 'enqueue', 'bank_enqueue')

        self.loader = self._iter = None
        if args.real_data:
            self.loader = self._build_loader(cfg, args, data_dir)
        self.synthetic = None if args.real_data else self._synthetic_batch(
            args.seed)

        self.steps: List[float] = []
        self.data_times: List[float] = []
        self.rounds: Dict[int, List[float]] = {}
        self.phases: Dict[str, List[float]] = {}
        self.peak = None

    # ------------------------------------------------------------------ setup
    def _fill_banks(self, fraction: float, seed: int) -> None:
        """Fill each bank with random unit vectors through its own ``enqueue``
        (in chunks, to bound the temporary memory)."""
        g = torch.Generator(device='cpu').manual_seed(seed)
        for bank in self.banks:
            todo = int(round(bank.size * fraction))
            while todo > 0:
                n = min(todo, 65536)
                feats = F.normalize(torch.randn(n, bank.dim, generator=g), dim=1)
                bank.enqueue(feats.to(self.device))
                todo -= n

    def _synthetic_batch(self, seed: int) -> dict:
        """What ``default_collate`` yields for the pipeline: ``num_views`` uint8
        (B, 3, S, S) tensors (pinned on GPU, as the loader's pin_memory does)."""
        from mmpretrain.structures import DataSample
        g = torch.Generator().manual_seed(seed)
        views = []
        for _ in range(self.num_views):
            v = torch.randint(
                0, 256, (self.batch_size, 3, self.img_size, self.img_size),
                generator=g, dtype=torch.uint8)
            views.append(v.pin_memory() if self.device.type == 'cuda' else v)
        return dict(
            inputs=views,
            data_samples=[DataSample() for _ in range(self.batch_size)])

    def _build_loader(self, cfg, args, data_dir):
        from mmengine.runner import Runner
        if 'train_dataloader' not in cfg:
            raise SystemExit(f'benchmark_train.py: {self.path} has no '
                             'train_dataloader for --real-data')
        dl = copy.deepcopy(cfg.train_dataloader)
        dl['batch_size'] = self.batch_size
        if args.num_workers is not None:
            dl['num_workers'] = args.num_workers
        if dl.get('num_workers', 0) == 0:
            dl['persistent_workers'] = False
        if self.device.type != 'cuda':
            dl['pin_memory'] = False
        if data_dir is not None:
            dl['dataset'] = dict(
                type='CustomDataset',
                data_root=data_dir,
                with_label=False,
                pipeline=dl['dataset']['pipeline'])
        return Runner.build_dataloader(dl, seed=args.seed)

    def _next_batch(self):
        if self._iter is None:
            self._iter = iter(self.loader)
        try:
            return next(self._iter)
        except StopIteration:
            self._iter = iter(self.loader)
            return next(self._iter)

    # ------------------------------------------------------------------- step
    def step(self, record: bool = False, round_idx: Optional[int] = None):
        """One Runner iteration; returns its wall seconds (data excluded)."""
        data_time = None
        if self.loader is not None:
            t0 = time.perf_counter()
            data = self._next_batch()
            data_time = time.perf_counter() - t0
        else:
            data = self.synthetic
        self.runner.message_hub.update_info('iter', self.runner.iter)
        self.timer.begin_step()
        t0 = time.perf_counter()
        log_vars = self.model.train_step(data, self.optim_wrapper)
        for hook in self.hooks:
            hook.after_train_iter(self.runner, self.runner.iter, data, log_vars)
        # The Runner's message hub reads every logged scalar: one host sync.
        {k: v.item() for k, v in log_vars.items()}
        bu.synchronize(self.device)
        elapsed = time.perf_counter() - t0
        phases = self.timer.end_step()
        self.runner.iter += 1
        if record:
            self.steps.append(elapsed)
            self.rounds.setdefault(round_idx, []).append(elapsed)
            if data_time is not None:
                self.data_times.append(data_time)
            for p in PHASES:
                self.phases.setdefault(p, []).append(phases.get(p, 0.))
        return elapsed

    def profile(self, out_dir: str, steps: int = 2) -> str:
        """Op table of ``steps`` steps under torch.profiler, sorted by self
        device time on GPU (self CPU time on CPU); returns the file path."""
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU]
        if self.device.type == 'cuda':
            acts.append(ProfilerActivity.CUDA)
        with profile(activities=acts) as prof:
            for _ in range(steps):
                self.step()
        avg = prof.key_averages()
        keys = (['self_device_time_total', 'self_cuda_time_total']
                if self.device.type == 'cuda' else ['self_cpu_time_total'])
        table = None
        for key in keys:
            try:
                table = avg.table(sort_by=key, row_limit=40)
                break
            except (AttributeError, KeyError, ValueError):
                continue
        os.makedirs(out_dir, exist_ok=True)
        path = osp.join(out_dir, f'{self.name}.txt')
        with open(path, 'w') as f:
            f.write(f'{self.path}: {steps} steps\n{table}\n')
        return path

    def measure_memory(self, steps: int) -> None:
        persistent = bu.persistent_bytes(self.model,
                                         self.optim_wrapper.optimizer)
        with bu.PeakMemory(self.device) as pm:
            for _ in range(steps):
                self.step()
        self.peak = dict(
            kind=pm.kind,
            persistent_bytes=persistent,
            transient_bytes=pm.delta,
            bytes=None if pm.delta is None else persistent + pm.delta)

    # ----------------------------------------------------------------- report
    def describe(self) -> Dict[str, object]:
        head = getattr(self.model, 'head', None)
        aug = getattr(head, 'augmenter', None)
        return dict(
            model=type(self.model).__name__,
            augmenter=None if aug is None else
            f'{type(aug).__name__}({aug.extra_repr()})',
            bank_sizes=[b.size for b in self.banks],
            bank_written=[int(b.num_written) for b in self.banks],
            num_params=sum(p.numel() for p in self.model.parameters()
                           if p.requires_grad))

    def summary(self) -> Dict[str, object]:
        phases = {p: bu.summarize(v) for p, v in self.phases.items()}
        n = len(self.steps)
        if n:
            fwd_bwd = [
                self.phases['forward'][i] + self.phases['backward'][i]
                for i in range(n)
            ]
            fa_bank = [
                self.phases['fa'][i] + self.phases['bank_enqueue'][i]
                for i in range(n)
            ]
            phases['forward_backward'] = bu.summarize(fwd_bwd)
            phases['fa_bank'] = bu.summarize(fa_bank)
        step = bu.summarize(self.steps)
        fa_share = None
        if step and phases.get('fa_bank'):
            fa_share = phases['fa_bank']['median'] / step['median']
        return dict(
            name=self.name,
            config=self.path,
            **self.describe(),
            batch_size=self.batch_size,
            num_views=self.num_views,
            img_size=self.img_size,
            step_time=step,
            data_time=bu.summarize(self.data_times),
            phases=phases,
            fa_bank_share=fa_share,
            peak_memory=self.peak,
            round_means={
                r: sum(v) / len(v)
                for r, v in sorted(self.rounds.items())
            })


def add_ratios(results: List[dict]) -> None:
    """Ratios of every config against the first: medians and paired rounds."""
    base = results[0]

    def ratio(a, b):
        return None if a is None or b in (None, 0) else a / b

    for res in results:
        paired = [
            res['round_means'][r] / base['round_means'][r]
            for r in res['round_means'] if r in base['round_means']
        ]
        fb = res['phases'].get('forward_backward')
        bfb = base['phases'].get('forward_backward')
        mem = (res['peak_memory'] or {}).get('bytes')
        bmem = (base['peak_memory'] or {}).get('bytes')
        res['ratios'] = dict(
            step_time=ratio(res['step_time']['median'],
                            base['step_time']['median']),
            step_time_paired=bu.summarize(paired),
            forward_backward=ratio(fb and fb['median'], bfb and bfb['median']),
            peak_memory=ratio(mem, bmem))


def format_report(report: dict) -> str:
    rows = []
    for r in report['results']:
        st, ph, ra = r['step_time'], r['phases'], r['ratios']
        paired = ra['step_time_paired']
        fa = ph.get('fa') or {}
        rows.append([
            r['name'],
            f"{bu.fmt_ms(st['median'])} [{bu.fmt_ms(st['q1'])}-"
            f"{bu.fmt_ms(st['q3'])}]",
            f"{ra['step_time']:.3f}",
            f"{paired['median']:.3f} [{paired['min']:.3f}-{paired['max']:.3f}]",
            bu.fmt_ms((ph.get('forward_backward') or {}).get('median')),
            bu.fmt_ms(fa.get('median')),
            bu.fmt_ms((ph.get('bank_query') or {}).get('median')),
            bu.fmt_ms((ph.get('bank_enqueue') or {}).get('median')),
            '-' if r['fa_bank_share'] is None else
            f"{100 * r['fa_bank_share']:.2f}",
            bu.fmt_ms((r['data_time'] or {}).get('median')),
            bu.fmt_mib((r['peak_memory'] or {}).get('bytes')),
            '-' if ra['peak_memory'] is None else f"{ra['peak_memory']:.3f}",
        ])
    header = [
        'config', 'step ms (median [IQR])', 'step x', 'paired x [min-max]',
        'fwd+bwd ms', 'FA ms', 'query ms', 'enqueue ms', 'FA+bank %',
        'data ms', 'peak MiB', 'mem x'
    ]
    s = report['settings']
    m = report['machine']
    where = m.get('gpu') or m['cpu']
    title = (f"device {s['device']} ({where}), torch {m['torch']}, batch "
             f"{s['batch_size']} x {s['num_views']} views at {s['img_size']} px, "
             f"{s['repeats']} rounds x {s['iters']} steps, warm-up "
             f"{s['warmup']}; ratios (x) against {report['results'][0]['name']}")
    return title + '\n\n' + bu.markdown_table(header, rows)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.logging import MessageHub, MMLogger

    device = resolve_device(args.device)
    if args.amp and device.type != 'cuda':
        raise SystemExit('benchmark_train.py: --amp (AmpOptimWrapper) needs '
                         '--device cuda')
    if args.threads:
        torch.set_num_threads(args.threads)
    bu.setup_mmfa()
    # Quiet the per-parameter init / paramwise logs of model building.
    if not MMLogger.check_instance_created('mmfa_benchmark_train'):
        MMLogger.get_instance('mmfa_benchmark_train', log_level='ERROR')
    paths = [args.config] + list(args.compare)
    cfgs = [load_config(p, args.cfg_options) for p in paths]
    if device.type == 'cuda':
        torch.cuda.set_device(device)
        env = cfgs[0].get('env_cfg', {}) or {}
        torch.backends.cudnn.benchmark = (
            args.cudnn_benchmark == 'on'
            or (args.cudnn_benchmark == 'config'
                and bool(env.get('cudnn_benchmark', False))))

    tmp = None
    data_dir = args.data_dir
    if args.real_data and args.generate_images:
        tmp = tempfile.TemporaryDirectory(prefix='mmfa_bench_imgs_')
        bu.write_fake_images(tmp.name, args.generate_images, seed=args.seed)
        data_dir = tmp.name

    names, seen = [], {}
    for p in paths:
        name = _short(p)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f'{name}#{seen[name]}')
    hub = MessageHub.get_instance('mmfa_benchmark_train')
    # What the Runner publishes and schedules such as BYOL's CosineEMA read; a
    # long run, so the momentum stays at its start value while timing.
    hub.update_info('max_iters', 10**6)
    hub.update_info('iter', 0)
    benches = [
        ConfigBench(n, p, c, args, device, hub, data_dir)
        for n, p, c in zip(names, paths, cfgs)
    ]

    for _ in range(args.warmup):
        for b in benches:
            b.step()
    for r in range(args.repeats):
        k = r % len(benches)
        for b in benches[k:] + benches[:k]:
            for _ in range(args.iters):
                b.step(record=True, round_idx=r)
            print(f'round {r + 1}/{args.repeats} {b.name}: '
                  f'{bu.fmt_ms(b.rounds[r][-1])} ms/step', file=sys.stderr,
                  flush=True)
    if args.memory_steps:
        for b in benches:
            b.measure_memory(args.memory_steps)

    if args.profile:
        for b in benches:
            b.profile(args.profile)
    results = [b.summary() for b in benches]
    add_ratios(results)
    report = dict(
        tool='benchmark_train',
        machine=bu.machine_info(device),
        settings=dict(
            device=str(device),
            batch_size=benches[0].batch_size,
            img_size=benches[0].img_size,
            num_views=benches[0].num_views,
            iters=args.iters,
            warmup=args.warmup,
            repeats=args.repeats,
            memory_steps=args.memory_steps,
            bank_fill=args.bank_fill,
            amp=args.amp,
            channels_last=args.channels_last,
            keep_accumulation=args.keep_accumulation,
            cudnn_benchmark=(torch.backends.cudnn.benchmark
                             if device.type == 'cuda' else None),
            real_data=args.real_data,
            cfg_options=args.cfg_options),
        results=results)
    print(format_report(report))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2, default=str)
    if tmp is not None:
        tmp.cleanup()
    return report


if __name__ == '__main__':
    main()
