# Copyright (c) mmfa contributors. All rights reserved.
"""Timing, memory and reporting helpers shared by the ``benchmark_*.py`` tools.

The tools measure the cost of feature augmentation (Zhang et al., "Feature
Augmentation for Self-supervised Contrastive Learning: A Closer Look",
arXiv:2410.12396) against its no-FA baseline and against mmpretrain. Nothing here
asserts on a time: it only measures and formats.
"""
import ctypes
import gc
import os
import platform
import statistics
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import torch

__all__ = [
    'summarize', 'PhaseTimer', 'PeakMemory', 'persistent_bytes', 'machine_info',
    'write_fake_images', 'markdown_table', 'synchronize', 'fmt_ms', 'fmt_mib',
    'time_call', 'setup_mmfa'
]


def setup_mmfa() -> None:
    """Register mmfa's training modules (models, engine) and mmpretrain's, and set
    the default scope to ``mmfa``.

    Unlike ``mmfa.utils.register_all_modules`` this does not import
    ``mmfa.evaluation``, whose detection metrics need mmdet: the benchmarks only
    train, and run where only mmengine, mmcv and mmpretrain are installed.
    """
    import datetime

    import mmpretrain.utils
    from mmengine import DefaultScope

    import mmfa  # noqa: F401  (compat patches)
    import mmfa.engine  # noqa: F401
    import mmfa.models  # noqa: F401
    mmpretrain.utils.register_all_modules(init_default_scope=False)
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'mmfa':
        DefaultScope.get_instance(f'mmfa-benchmark-{datetime.datetime.now()}',
                                  scope_name='mmfa')


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (no-op on CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def summarize(values: Sequence[float]) -> Optional[Dict[str, float]]:
    """Median, quartiles (IQR), min, max and mean of a sample; None when empty.

    The quartiles use ``statistics.quantiles(method='inclusive')``, i.e. linear
    interpolation between order statistics, so they exist for any n >= 1.
    """
    values = [float(v) for v in values]
    if not values:
        return None
    if len(values) == 1:
        q1 = q3 = values[0]
    else:
        q1, _, q3 = statistics.quantiles(values, n=4, method='inclusive')
    return dict(
        median=statistics.median(values),
        q1=q1,
        q3=q3,
        iqr=q3 - q1,
        min=min(values),
        max=max(values),
        mean=statistics.fmean(values),
        n=len(values))


class PhaseTimer:
    """Times named phases of a training step by wrapping methods in place.

    On CUDA each wrapped call records a pair of CUDA events on the current stream
    (no host synchronisation inside the step, so the step itself is not perturbed);
    the elapsed times are read in :meth:`end_step`, after the caller synchronised.
    An event pair measures the GPU time between the two points of the stream,
    including GPU idle time while the host prepares the phase's kernels, i.e. the
    phase's share of the critical path. On CPU the calls are timed with
    ``time.perf_counter`` (CPU kernels run synchronously).

    Phases may nest (e.g. the bank query inside the FA call); each phase is
    summed over its calls within a step.

    Args:
        device (torch.device): The device the step runs on.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = torch.device(device)
        self.cuda = self.device.type == 'cuda'
        self._records: Dict[str, list] = {}
        self.active = False

    def wrap(self, obj, attr: str, phase: str) -> None:
        """Replace ``obj.attr`` (a bound method) by a timed version of itself.

        The replacement is an instance attribute, so ``nn.Module.__call__`` (which
        looks up ``self.forward``) and direct calls both go through it.
        """
        original = getattr(obj, attr)
        timer = self

        def timed(*args, **kwargs):
            if not timer.active:
                return original(*args, **kwargs)
            if timer.cuda:
                start = torch.cuda.Event(enable_timing=True)
                stop = torch.cuda.Event(enable_timing=True)
                start.record()
                out = original(*args, **kwargs)
                stop.record()
                timer._records.setdefault(phase, []).append((start, stop))
            else:
                t0 = time.perf_counter()
                out = original(*args, **kwargs)
                timer._records.setdefault(phase, []).append(
                    time.perf_counter() - t0)
            return out

        timed.__wrapped__ = original
        setattr(obj, attr, timed)

    def begin_step(self) -> None:
        self._records = {}
        self.active = True

    def end_step(self) -> Dict[str, float]:
        """Seconds per phase of the step that just ended (call after a sync)."""
        self.active = False
        out = {}
        for phase, recs in self._records.items():
            if self.cuda:
                out[phase] = sum(s.elapsed_time(e) for s, e in recs) / 1e3
            else:
                out[phase] = sum(recs)
        self._records = {}
        return out


def _status_kib(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    """Give freed heap memory back to the OS (glibc), so that the RSS before a
    measurement is the live memory and not the allocator's cache."""
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_rss_peak() -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM) to the current RSS."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak memory growth of the code run inside the ``with`` block.

    - CUDA: ``torch.cuda.max_memory_allocated`` after
      ``reset_peak_memory_stats``, minus the memory allocated on entry (tensors
      of the caching allocator; the allocator's cache is not counted).
    - CPU: the growth of the process's peak RSS (VmHWM, reset on entry through
      ``/proc/self/clear_refs``, Linux >= 4.0) over the RSS on entry, after
      ``malloc_trim``. ``tracemalloc`` does not see torch's allocations, so it is
      not used. Unavailable (``delta`` None) where ``/proc`` cannot be written.

    Attributes:
        delta (int | None): Bytes of peak growth.
        kind (str): What was measured.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = torch.device(device)
        self.delta: Optional[int] = None
        self.kind = ('cuda_max_memory_allocated'
                     if self.device.type == 'cuda' else 'cpu_rss_hwm')
        self._before = None
        self._ok = False

    def __enter__(self):
        gc.collect()
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._before = torch.cuda.memory_allocated(self.device)
            self._ok = True
        else:
            _malloc_trim()
            self._ok = _reset_rss_peak()
            self._before = _status_kib('VmRSS')
            self._ok = self._ok and self._before is not None
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.delta = (torch.cuda.max_memory_allocated(self.device) -
                          self._before)
        elif self._ok:
            hwm = _status_kib('VmHWM')
            self.delta = None if hwm is None else max(
                0, hwm - self._before) * 1024
        return False


def _tensors_of(obj) -> Iterable[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors_of(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors_of(v)


def persistent_bytes(model: torch.nn.Module,
                     optimizer: Optional[torch.optim.Optimizer] = None,
                     include_grads: bool = False) -> int:
    """Bytes of the state a model keeps between steps: parameters, buffers (a
    feature bank included) and the optimizer state; gradients only if asked
    (``zero_grad(set_to_none=True)`` frees them between steps). Shared storages
    are counted once."""
    seen = set()
    total = 0

    def add(t):
        nonlocal total
        if t is None or t.device.type == 'meta':
            return
        storage = t.untyped_storage()
        key = (storage.data_ptr(), t.device)
        if key in seen:
            return
        seen.add(key)
        total += storage.nbytes()

    for p in model.parameters():
        add(p.data)
        if include_grads:
            add(p.grad)
    for b in model.buffers():
        add(b)
    if optimizer is not None:
        for state in optimizer.state.values():
            for t in _tensors_of(state):
                add(t)
    return total


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device) -> Dict[str, object]:
    """The machine and software a benchmark ran on (for the report)."""
    device = torch.device(device)
    info = dict(
        cpu=_cpu_model(),
        cpu_count=os.cpu_count(),
        cpu_affinity=(len(os.sched_getaffinity(0))
                      if hasattr(os, 'sched_getaffinity') else None),
        torch_threads=torch.get_num_threads(),
        python=platform.python_version(),
        torch=torch.__version__,
        device=str(device),
    )
    for name in ('mmengine', 'mmcv', 'mmpretrain', 'numpy'):
        try:
            info[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001  (version of what is there, if any)
            info[name] = None
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        info.update(
            gpu=props.name,
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
            tf32_cudnn=torch.backends.cudnn.allow_tf32)
    return info


def write_fake_images(out_dir: str,
                      num: int,
                      min_size: int = 256,
                      max_size: int = 500,
                      seed: int = 0,
                      quality: int = 90) -> List[str]:
    """Write ``num`` generated RGB JPEGs with sides in [min_size, max_size].

    The content is a smooth colour field (bilinear upsampling of a coarse random
    grid) plus mild pixel noise, so that JPEG decoding, resizing and blurring cost
    about what they cost on photographs (pure noise would compress badly, flat
    colour too well). Nothing is downloaded.

    Returns:
        list[str]: The file paths.
    """
    import numpy as np
    from PIL import Image

    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(num):
        w, h = (int(v) for v in rng.integers(min_size, max_size + 1, size=2))
        coarse = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        img = Image.fromarray(coarse).resize((w, h), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.int16)
        arr = arr + rng.integers(-12, 13, size=arr.shape, dtype=np.int16)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        path = os.path.join(out_dir, f'img_{i:05d}.jpg')
        img.save(path, quality=quality)
        paths.append(path)
    return paths


def fmt_ms(seconds: Optional[float]) -> str:
    return '-' if seconds is None else f'{seconds * 1e3:.1f}'


def fmt_mib(num_bytes: Optional[float]) -> str:
    return '-' if num_bytes is None else f'{num_bytes / 2**20:.0f}'


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ['| ' + ' | '.join(str(h) for h in header) + ' |',
             '|' + '|'.join('---' for _ in header) + '|']
    for row in rows:
        lines.append('| ' + ' | '.join(str(c) for c in row) + ' |')
    return '\n'.join(lines)


def time_call(fn: Callable, device: torch.device) -> float:
    """Wall seconds of ``fn()``, the device synchronised before and after."""
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - t0
