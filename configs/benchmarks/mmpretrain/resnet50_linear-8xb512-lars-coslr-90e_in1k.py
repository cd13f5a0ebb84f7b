# mmpretrain's 90-epoch LARS linear evaluation (batch 8 x 512 = 4096, LARS lr 1.6,
# cosine schedule, weight decay 0), as used by mmpretrain/MMSelfSup for SimCLR, BYOL and
# MoCo v3: for comparisons with their model zoo. The paper's own protocol is
# fa-{id,byol}_resnet50_linear-8xb32-steplr-60e_in1k.py.
_base_ = 'mmpretrain::byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py'

default_scope = 'mmfa'
custom_imports = dict(imports=['mmfa.evaluation'], allow_failed_imports=False)
# as configs/_base_/default_runtime.py: backend chosen by tools/train.py, a DDP
# wrapper that also runs on CPU
env_cfg = dict(dist_cfg=dict(backend='auto'))
model_wrapper_cfg = dict(
    type='mmfa.engine.wrappers.MMFADistributedDataParallel')

model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        zero_init_residual=False,
        init_cfg=dict(
            type='PretrainedStrict', checkpoint=None, prefix='backbone.')))

auto_scale_lr = dict(base_batch_size=4096)
