"""Resolving config entries into engine ``Member``s: the plugin each entry names, looked up in the
registry, checked against the stage it is used in, and instantiated with validated parameters."""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import ValidationError

from drid.errors import ConfigError, close_matches, validation_message
from drid.pipeline import hookspecs
from drid.pipeline._stages import Member
from drid.pipeline.config import PluginSpec
from drid.pipeline.hookspecs import ROLE_HOOKS
from drid.pipeline.params import plugin_name
from drid.pipeline.registry import PluginInfo, Registry, default_registry, hooks_of, roles_of

__all__ = ["check_role", "listify", "resolve_member"]


def resolve_member(entry: Any, stage: str, path: str, policy: str, *, registry: Registry | None, where: str, taken: set[str]) -> Member:
    """The ``Member`` for one config entry (a plugin instance, class, registered name, ``(name, params)``
    pair, mapping or ``PluginSpec``) at ``path`` of ``stage``: the plugin looked up, checked to have
    the stage's hook, its parameters validated, and a name unique among ``taken`` (which it joins)."""
    registry = registry or default_registry()
    if isinstance(entry, dict):
        try:
            entry = PluginSpec.model_validate(entry)
        except ValidationError as exc:
            loc, msg = validation_message(exc)
            raise ConfigError(msg, path=f"{path}.{loc}" if loc else path, where=where) from None
    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
        entry = PluginSpec(plugin=entry[0], params=dict(entry[1] or {}))
    if isinstance(entry, str):
        entry = PluginSpec(plugin=entry)
    interval, timeout = 1, None
    if isinstance(entry, PluginSpec):
        info = registry.get(entry.plugin, path=f"{path}.plugin", where=where)
        check_role(info.cls, info.name, stage, path, where)
        if entry.interval != 1 and stage != "detect":
            raise ConfigError(f"interval applies to detect entries only (this one is under {stage})", path=f"{path}.interval", where=where)
        instance = info.instantiate(entry.params, path=f"{path}.params", where=where)
        name, policy, interval, timeout = entry.name or entry.plugin, entry.on_error or policy, entry.interval, entry.timeout
    elif inspect.isclass(entry):
        info = PluginInfo(name=registry.name_of(entry) or plugin_name(entry), target=entry.__qualname__, cls=entry)
        check_role(entry, info.name, stage, path, where)
        instance = info.instantiate({}, path=f"{path}.params", where=where)
        name = info.name
    elif entry is not None and hooks_of(entry):
        name = registry.name_of(type(entry)) or plugin_name(entry)
        check_role(entry, name, stage, path, where)
        instance = entry
    else:
        raise ConfigError(f"expected a plugin (instance, class, name or spec), got {type(entry).__name__}", path=path, where=where)
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}#{n}", n + 1
    taken.add(unique)
    return Member(unique, instance, stage, path, policy, interval=interval, timeout=timeout)


def listify(entries: Any) -> list[Any]:
    """A stage's entries as a list: one plugin (name, pair, mapping, spec, class or instance) or many."""
    if entries is None:
        return []
    if isinstance(entries, tuple) and len(entries) == 2 and isinstance(entries[0], str) and isinstance(entries[1], dict):
        return [entries]  # one (name, params) pair
    if isinstance(entries, (str, dict, PluginSpec)) or hooks_of(entries) or inspect.isclass(entries):
        return [entries]
    return list(entries)


def check_role(cls_or_obj: Any, name: str, stage: str, path: str, where: str) -> None:
    """A ``ConfigError`` at ``path`` unless the plugin implements only known hooks and the hook ``stage`` calls."""
    roles = roles_of(cls_or_obj)
    hooks = hooks_of(cls_or_obj)
    for hook in hooks:
        if hook not in hookspecs.HOOKS:
            raise ConfigError(f"plugin '{name}' implements unknown hook '{hook}'{close_matches(hook, hookspecs.HOOKS) or ''}", path=path, where=where)
    wanted = ROLE_HOOKS[stage][0]
    if wanted not in hooks:
        can = ", ".join(roles) or "nothing (no hooks)"
        raise ConfigError(f"plugin '{name}' cannot be used as {stage}: it has no {wanted} hook (it can be used as: {can})", path=path, where=where)
