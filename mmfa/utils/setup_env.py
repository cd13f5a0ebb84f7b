# Copyright (c) mmfa contributors. All rights reserved.
import datetime
import warnings

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
