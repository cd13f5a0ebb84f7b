# Copyright (c) mmfa contributors. All rights reserved.
import torch
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm

from mmfa.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class MMFADistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also runs on CPU (gloo).

    mmengine 0.10.7's ``Runner.wrap_model`` always passes
    ``device_ids=[LOCAL_RANK]``, which torch's DDP rejects for a CPU module, and
    ``torch.nn.SyncBatchNorm`` only runs on GPU. For a module on CPU this wrapper
    drops ``device_ids`` and reverts SyncBN to BN; on GPU it is the plain mmengine
    wrapper. ``broadcast_buffers`` stays False (mmengine's default), so rank 0 never
    overwrites the other ranks' buffers such as mmfa's feature banks.

    Args:
        module (nn.Module): The model to wrap.
        detect_anomalous_params (bool): See ``MMDistributedDataParallel``.
        **kwargs: Passed to ``torch.nn.parallel.DistributedDataParallel``.
    """

    def __init__(self, module, detect_anomalous_params=False, **kwargs):
        param = next(module.parameters(), None)
        on_cpu = param is None or param.device.type == 'cpu'
        if on_cpu:
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
            module = revert_sync_batchnorm(module)
        kwargs.setdefault('broadcast_buffers', False)
        super().__init__(
            module=module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)


__all__ = ['MMFADistributedDataParallel']
