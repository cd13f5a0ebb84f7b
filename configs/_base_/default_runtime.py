# mmfa runtime defaults, shared by every config (pre-training and linear eval).
default_scope = 'mmfa'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # 'auto': tools/train.py picks nccl with a GPU and gloo on CPU.
    dist_cfg=dict(backend='auto'),
)

# Runs on GPU and on CPU (gloo), where it drops device_ids and reverts SyncBN.
# A full import path: mmengine's Runner looks wrappers up in its root registry,
# which ignores the default scope and only sees its direct children's scopes.
model_wrapper_cfg = dict(
    type='mmfa.engine.wrappers.MMFADistributedDataParallel')

# Add dict(type='TensorboardVisBackend') for TensorBoard logs.
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_processor = dict(
    window_size=10,
    custom_cfg=[dict(data_src='', method='mean', window_size='global')])
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=False)
