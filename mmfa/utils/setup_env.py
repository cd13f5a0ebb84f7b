# Copyright (c) mmfa contributors. All rights reserved.
import contextlib
import datetime
import warnings

import torch
from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmfa's modules in its registries (children of mmpretrain's).

    Args:
        init_default_scope (bool): Whether to set the default scope to ``mmfa``, so
            that registries find mmfa's modules first. Defaults to True.
    """
    import mmfa.datasets  # noqa: F401,F403
    import mmfa.engine  # noqa: F401,F403
    import mmfa.evaluation  # noqa: F401,F403
    import mmfa.models  # noqa: F401,F403
    import mmpretrain.utils
    mmpretrain.utils.register_all_modules(init_default_scope=False)

    if not init_default_scope:
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope is None:
        DefaultScope.get_instance('mmfa', scope_name='mmfa')
    elif current_scope.scope_name != 'mmfa':
        warnings.warn(f'The current default scope "{current_scope.scope_name}" '
                      'is not "mmfa"; `register_all_modules` forces it to '
                      '"mmfa" under a new instance name.')
        new_instance_name = f'mmfa-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name='mmfa')


@contextlib.contextmanager
def _cpu_device_calls():
    """Make ``torch.cuda.set_device`` a no-op while mmengine initialises a CPU
    process group: its launchers call it unconditionally, which raises "Found no
    NVIDIA driver" on a CPU host."""
    original = torch.cuda.set_device
    torch.cuda.set_device = lambda *args, **kwargs: None
    try:
        yield
    finally:
        torch.cuda.set_device = original


def setup_runtime(cfg) -> None:
    """Prepare a config for the device at hand, before the Runner is built.

    - ``env_cfg.dist_cfg.backend``: ``'nccl'`` with a GPU, ``'gloo'`` without one,
      unless the config names another backend explicitly (anything but ``'auto'``).
    - On a CPU host with a distributed launcher, initialise the process group here
      (mmengine's launchers call ``torch.cuda.set_device``); the Runner then skips
      ``init_dist`` because a group exists. SyncBN is reverted to BN by
      ``MMFADistributedDataParallel`` on CPU.
    - A top-level key that is a typo of a Runner argument (``load_form``) raises
      :class:`~mmfa.utils.config_checks.ConfigKeyError`; ``trust_checkpoint=True``
      opts in to fully unpickling checkpoints (see ``mmfa.utils.checkpoint_io``).
    - ``default_scope`` defaults to ``'mmfa'``; mmfa's and mmpretrain's modules are
      registered (mmengine imports a parent registry's lazy ``locations`` only when
      that registry itself is searched, not through its children).

    Args:
        cfg (mmengine.Config): The config; modified in place.
    """
    from mmengine.dist import init_dist, is_distributed

    from .checkpoint_io import set_checkpoint_trust
    from .config_checks import check_top_level_keys
    check_top_level_keys(cfg)
    if cfg.get('trust_checkpoint', False):
        set_checkpoint_trust(True)
    cfg.setdefault('default_scope', 'mmfa')
    register_all_modules(init_default_scope=False)
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    has_gpu = torch.cuda.is_available()
    if dist_cfg.get('backend', 'auto') in ('auto', None):
        dist_cfg['backend'] = 'nccl' if has_gpu else 'gloo'
    elif not has_gpu and dist_cfg['backend'] == 'nccl':
        warnings.warn('No GPU is visible: using the gloo backend instead of '
                      'nccl.')
        dist_cfg['backend'] = 'gloo'
    launcher = cfg.get('launcher', 'none')
    if launcher != 'none' and not has_gpu and not is_distributed():
        with _cpu_device_calls():
            init_dist(launcher, **dist_cfg)
