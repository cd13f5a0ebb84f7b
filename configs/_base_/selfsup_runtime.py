# Runtime of mmfa pre-training: the shared runtime plus the feature-bank hook (the
# warm-up switch and logged scalars of the NN / NN-noise FA bank, which the model
# writes itself; idle for the other methods) and checkpoint-on-preemption
# (SIGTERM / SIGUSR1 from slurm).
_base_ = './default_runtime.py'
custom_hooks = [
    dict(type='FeatureBankHook', require_bank=False),
    dict(type='PreemptionCheckpointHook'),
]
