# Copyright (c) mmfa contributors. All rights reserved.
"""Turn mmengine's "X is not in the Y registry" errors into one clear message with the
closest registered names."""
import difflib
import re
from typing import Iterable, Optional, Set

from mmengine.registry import Registry

__all__ = ['explain_registry_error', 'registered_names']

_NOT_IN_REGISTRY = re.compile(
    r'`?(?P<name>[\w.]+)`? is not in the (?:(?P<scope>[\w]+)::)?'
    r'(?P<registry>[\w ]+?) registry')


def _walk(registry: Registry) -> Iterable[Registry]:
    """The registry, its parents and, from the root, every scope's registry."""
    root = registry
    while root.parent is not None:
        root = root.parent
    stack = [root]
    while stack:
        reg = stack.pop()
        yield reg
        stack.extend(reg.children.values())


def registered_names(registry: Registry) -> Set[str]:
    """All names reachable from ``registry`` (own, parents', sibling scopes')."""
    import mmfa.utils.setup_env as setup_env
    setup_env.register_all_modules(init_default_scope=False)
    names = set()
    for reg in _walk(registry):
        reg.import_from_location()
        names.update(reg.module_dict.keys())
    return names


def explain_registry_error(exc: BaseException) -> Optional[str]:
    """One-paragraph explanation of an unknown-type error, or None if ``exc`` is not one.

    Args:
        exc (BaseException): The error raised while building from a config.
    """
    match = _NOT_IN_REGISTRY.search(str(exc))
    if match is None:
        return None
    import mmfa.registry as mmfa_registry
    name, reg_name = match.group('name'), match.group('registry')
    registry = next((reg for reg in vars(mmfa_registry).values()
                     if isinstance(reg, Registry) and reg.name == reg_name),
                    None)
    hint = ''
    if registry is not None:
        close = difflib.get_close_matches(
            name.split('.')[-1], sorted(registered_names(registry)), n=5,
            cutoff=0.6)
        hint = (f' Close matches: {", ".join(close)}.'
                if close else ' No registered name is close.')
    return (f"Unknown type '{name}' in the {reg_name} registry (scope "
            f"'{match.group('scope') or 'mmfa'}').{hint} Fix the `type` in the "
            'config, or add the module that registers it to `custom_imports`.')
