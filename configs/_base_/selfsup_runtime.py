# Runtime of mmfa pre-training: the shared runtime plus the feature-bank hook (it
# feeds the bank of NN / NN-noise FA and is idle for the other methods) and
# checkpoint-on-preemption (SIGTERM / SIGUSR1 from slurm).
_base_ = './default_runtime.py'
custom_hooks = [
    dict(type='FeatureBankHook', require_bank=False),
    dict(type='PreemptionCheckpointHook'),
]
