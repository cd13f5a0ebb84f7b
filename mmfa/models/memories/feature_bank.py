# Copyright (c) mmfa contributors. All rights reserved.
"""Ring-buffer feature bank of the NN FA methods (docs/design.md §5)."""
import logging
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from mmfa.registry import MODELS
from ..utils import gather_features_nograd

__all__ = ['FeatureBank']


@MODELS.register_module()
class FeatureBank(nn.Module):
    """FIFO bank of l2-normalised positive-view projections, queried by cosine top-k.

    Used by the NN and NN-noise feature augmentations of Zhang et al., "Feature
    Augmentation for Self-supervised Contrastive Learning: A Closer Look",
    arXiv:2410.12396 (the bank of NNCLR).

    Protocol of one training step (docs/design.md §5): the model's training
    ``loss()`` first computes every loss term of the step, which *queries* the bank
    (through an FA module; both directions of a symmetrised loss), and then, as its
    last bank operation, calls :meth:`enqueue` with the positive-view projections of
    the step (through ``FAHeadMixin.enqueue_for_bank``), once per training forward.
    Hence the loss of step t only sees features of steps < t and a sample is never
    its own neighbour; the neighbours returned by :meth:`query` are detached copies,
    so writing the bank after the query cannot change what autograd saved.
    :meth:`enqueue` is a no-op while the bank is in eval mode, so validation and
    monitoring forwards never write.

    The bank lives in persistent buffers (``feats``, ``ptr``, ``num_written``), so it
    is saved in checkpoints and restored on resume. A checkpoint whose bank has
    another size is refused on ``--resume`` (its pointer and written count belong to
    its own size; restoring them without the entries would report zero rows as
    written) and, when only the weights are loaded (``load_from``), the bank starts
    empty with a warning. Entries are written from index 0
    on, so the written entries are exactly ``feats[:num_written]``; entries never
    written are never returned by :meth:`query`.

    Under DDP :meth:`enqueue` all-gathers the features of every rank and writes them
    in rank order, so every rank holds the identical bank; every rank calls it in
    every training forward (as mmpretrain's MoCo calls ``_dequeue_and_enqueue``), a
    rank with an empty local batch included. mmengine wraps models in
    ``MMDistributedDataParallel(broadcast_buffers=False)``, so DDP does not overwrite
    the banks with rank 0's buffers (they are identical anyway); keep
    ``broadcast_buffers=False`` in a custom ``model_wrapper_cfg``.

    Args:
        size (int): Number of entries. Defaults to 65536.
        dim (int): Feature dimension. Defaults to 256.
        query_chunk_size (int, optional): Bank entries scored at once by
            :meth:`query`, which bounds its peak extra memory (see there). None
            (default) sizes the chunks so that the (N, chunk) score buffer takes
            ``query_chunk_bytes``: one chunk for the paper's 65536 entries and a
            batch of 256, several for larger banks.
        query_chunk_bytes (int): Score-buffer budget used when
            ``query_chunk_size`` is None. Defaults to 64 MiB.

    Attributes:
        query_enabled (bool): Whether the FA methods may query the bank; set by
            FeatureBankHook (False during its warm-up), True by default.
        last_top1_sim (float): Mean top-1 cosine similarity of the last query.
        num_received (int): Features received by :meth:`enqueue` in training mode
            since the bank was built, summed over ranks (a host count, not
            checkpointed); FeatureBankHook checks with it that the model feeds
            the bank.
    """

    # Its buffers' shapes are checked here, not by the generic checkpoint-key check.
    _checks_own_checkpoint_shapes = True

    def __init__(self,
                 size: int = 65536,
                 dim: int = 256,
                 query_chunk_size: Optional[int] = None,
                 query_chunk_bytes: int = 64 * 2**20) -> None:
        super().__init__()
        for name, value in (('size', size), ('dim', dim),
                            ('query_chunk_size', query_chunk_size or 1),
                            ('query_chunk_bytes', query_chunk_bytes)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f'FeatureBank: {name} must be a positive int, got {value!r}.')
        self.size = size
        self.dim = dim
        self.query_chunk_size = query_chunk_size
        self.query_chunk_bytes = query_chunk_bytes
        self.register_buffer('feats', torch.zeros(size, dim))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('num_written', torch.zeros((), dtype=torch.long))
        # Host copy of num_written: reading the buffer on a GPU would synchronise
        # the device in the middle of the forward pass (see written_entries).
        self._num_written_host = 0
        # Set by FeatureBankHook (False during its warm-up); the FA methods check it.
        self.query_enabled = True
        self.num_received = 0
        self._last_top1 = None

    def extra_repr(self) -> str:
        return f'size={self.size}, dim={self.dim}'

    @property
    def written_entries(self) -> int:
        """Number of written entries, without a device synchronisation on GPU.

        On CPU the buffer is read (free); on an accelerator the host copy kept by
        :meth:`enqueue` and checkpoint loading is returned, because reading a CUDA
        tensor waits for the device mid-forward and stalls the step.
        """
        if self.num_written.device.type == 'cpu':
            return int(self.num_written)
        return self._num_written_host

    @property
    def fill_ratio(self) -> float:
        """Fraction of the entries written so far, in [0, 1]."""
        return self.written_entries / self.size

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        key = prefix + 'feats'
        saved = state_dict.get(key)
        if saved is not None and tuple(saved.shape) != tuple(self.feats.shape):
            self._load_other_size(prefix, tuple(saved.shape))
            names = [prefix + n for n in ('feats', 'ptr', 'num_written')]
            rest = {k: v for k, v in state_dict.items() if k not in names}
            super()._load_from_state_dict(rest, prefix, local_metadata, strict,
                                          missing_keys, unexpected_keys,
                                          error_msgs)
            # Handled here: the bank was reset on purpose.
            missing_keys[:] = [k for k in missing_keys if k not in names]
            return
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        key = prefix + 'num_written'
        if key in state_dict:
            self._num_written_host = int(state_dict[key])

    def _load_other_size(self, prefix: str, saved: Tuple[int, ...]) -> None:
        """A checkpoint whose bank has another size: refused on resume, reset to an
        empty bank (with a warning) when only the weights are loaded."""
        from mmfa.utils.checkpoint_io import CheckpointError, is_resuming
        name = prefix.rstrip('.') or 'FeatureBank'
        if is_resuming():
            raise CheckpointError(
                f'Cannot resume: the feature bank {name} of the checkpoint holds '
                f'{saved[0]} x {saved[1] if len(saved) > 1 else "?"} entries but '
                f'the model\'s holds {self.size} x {self.dim}; its ring pointer '
                'and written count only fit its own size. Resume with the '
                f'checkpoint\'s size (bank=dict(size={saved[0]}, ...)), or start '
                'a new run from its weights with load_from (the bank then starts '
                'empty).')
        print_log(
            f'FeatureBank {name}: the checkpoint\'s bank holds {saved[0]} entries '
            f'but this one {self.size} x {self.dim}; starting with an empty bank '
            '(0 written entries) instead of loading it.',
            logger='current',
            level=logging.WARNING)
        self.feats.zero_()
        self.ptr.zero_()
        self.num_written.zero_()
        self._num_written_host = 0

    @property
    def last_top1_sim(self) -> float:
        """Mean cosine similarity of the top-1 neighbours of the last :meth:`query`
        (nan before the first query); logged by FeatureBankHook."""
        if self._last_top1 is None:
            return float('nan')
        return float(self._last_top1)

    def _check_feats(self, feats: Tensor, what: str) -> None:
        if feats.dim() != 2 or feats.shape[1] != self.dim:
            raise ValueError(
                f'FeatureBank.{what} expects features of shape (N, {self.dim}), got '
                f'{tuple(feats.shape)}; build the bank with dim equal to the '
                'projection dimension (e.g. bank=dict(type="FeatureBank", '
                f'dim={feats.shape[-1]})).')

    @torch.no_grad()
    def query(self,
              feats: Tensor,
              k: int,
              chunk_size: Optional[int] = None) -> Tuple[Tensor, Tensor]:
        """Top-k most cosine-similar written entries of each feature.

        The bank is scored in chunks of ``chunk_size`` entries and a running top-k is
        merged across chunks, so the peak extra memory is O(N * chunk_size) (one
        (N, chunk_size) float32 score buffer, at most ``query_chunk_bytes`` = 64 MiB by
        default) instead of O(N * size) (1.9 GiB for N=512 and a 1M-entry bank).

        Args:
            feats (Tensor): Queries (N, dim); l2-normalised here.
            k (int): Number of neighbours, at most ``num_written``.
            chunk_size (int, optional): Entries scored at once. Defaults to
                ``query_chunk_size``.

        Returns:
            tuple[Tensor, Tensor]: Cosine similarities (N, k), descending, and the
            detached neighbours (N, k, dim) in the dtype of ``feats``.
        """
        self._check_feats(feats, 'query')
        if chunk_size is None:
            chunk_size = self.query_chunk_size or max(
                1, self.query_chunk_bytes // (4 * max(feats.shape[0], 1)))
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError('FeatureBank.query: chunk_size must be a positive int, '
                             f'got {chunk_size!r}.')
        num_written = self.written_entries
        if not 1 <= k <= num_written:
            raise ValueError(
                f'FeatureBank.query: k={k} neighbours requested but the bank holds '
                f'{num_written} written entries; callers must fall back until '
                'num_written >= k.')
        # fp32 scores even under autocast: ranking by low-precision sims is noisy.
        with torch.autocast(device_type=feats.device.type, enabled=False):
            q = F.normalize(feats.detach().to(self.feats.dtype), dim=1)
            n = q.shape[0]
            chunk_size = min(chunk_size, num_written)
            # One reused score buffer keeps the peak at N * chunk_size floats.
            buf = q.new_empty(n * chunk_size)
            best_vals = best_idx = None
            for start in range(0, num_written, chunk_size):
                stop = min(start + chunk_size, num_written)
                scores = buf[:n * (stop - start)].view(n, stop - start)
                torch.mm(q, self.feats[start:stop].t(), out=scores)
                vals, idx = scores.topk(min(k, stop - start), dim=1)
                idx += start
                if best_vals is not None:
                    vals = torch.cat([best_vals, vals], dim=1)
                    idx = torch.cat([best_idx, idx], dim=1)
                    vals, pos = vals.topk(min(k, vals.shape[1]), dim=1)
                    idx = idx.gather(1, pos)
                best_vals, best_idx = vals, idx
            del buf
        neighbours = self.feats[best_idx].to(feats.dtype)
        self._last_top1 = best_vals[:, 0].mean() if n else None
        return best_vals, neighbours

    @torch.no_grad()
    def enqueue(self, feats: Tensor) -> int:
        """Write features at ``ptr`` (all ranks' features, in rank order, under DDP).

        Called by the model at the end of its training loss, after every query of the
        step, on every rank (a collective under DDP). A no-op returning 0 in eval
        mode, so validation and monitoring forwards never write (and, all ranks
        being in the same mode, never start the collective).

        Writing wraps around the end of the bank, so ``size`` need not be a multiple
        of the batch; if more than ``size`` features arrive at once, the last
        ``size`` are kept. Features are stored l2-normalised and detached, in the
        bank's dtype (fp32, also under autocast).

        Args:
            feats (Tensor): Local features (N, dim), N may be 0.

        Returns:
            int: Number of features received, summed over ranks (0 in eval mode).
        """
        self._check_feats(feats, 'enqueue')
        if not self.training:
            return 0
        feats = gather_features_nograd(feats.detach().to(self.feats.device))
        total = feats.shape[0]
        self.num_received += total
        if total == 0:
            return 0
        feats = F.normalize(feats.to(self.feats.dtype), dim=1)
        # Element j of the batch goes to (ptr + j) % size; of more than `size`
        # elements only the last `size` survive, at the slots they would end in.
        first = max(0, total - self.size)
        slots = (self.ptr + torch.arange(
            first, total, device=self.feats.device)) % self.size
        self.feats[slots] = feats[first:]
        self.ptr.copy_((self.ptr + total) % self.size)
        self.num_written.copy_(
            torch.clamp(self.num_written + total, max=self.size))
        self._num_written_host = min(self._num_written_host + total, self.size)
        return total
