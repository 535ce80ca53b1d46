"""The one way drid calls a plugin's hook.

pluggy lets a hook implementation take any subset of the arguments its spec lists, matched by
name. The engine calls each plugin on its own (to time, validate and attribute what it returns),
so it cannot go through ``pm.hook.<name>(...)``; instead it binds the plugin's ``HookImpl``
once and calls its function with the arguments it asked for. Stage hooks, the optional hooks
(``drid_start``, ``drid_stop``, ``drid_act``, ``drid_learn``, ``drid_write``, ``drid_frames``), the
Ray stage actor and the evaluator all go through :func:`bind`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pluggy

from drid.errors import ConfigError
from drid.pipeline import hookspecs
from drid.pipeline.hookspecs import PROJECT

__all__ = ["BoundHook", "TimedCall", "bind", "plugin_manager"]


class BoundHook:
    """One plugin's implementation of one hook, callable with the spec's arguments by name
    (``bound(frame=f)`` or ``bound.call({"frame": f})``); only the ones it takes are passed."""

    __slots__ = ("hook", "function", "argnames", "wrapper")

    def __init__(self, hook: str, impl: Any) -> None:
        self.hook = hook
        self.function = impl.function
        self.argnames: tuple[str, ...] = tuple(impl.argnames)
        self.wrapper = bool(impl.wrapper or impl.hookwrapper)

    def call(self, kwargs: dict[str, Any]) -> Any:
        return self.function(*[kwargs[a] for a in self.argnames])

    def __call__(self, **kwargs: Any) -> Any:
        return self.function(*[kwargs[a] for a in self.argnames])


class _Job:
    __slots__ = ("function", "kwargs", "done", "value", "error")

    def __init__(self, function: Callable[[dict[str, Any]], Any], kwargs: dict[str, Any]) -> None:
        self.function = function
        self.kwargs = kwargs
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.function(self.kwargs)
        except BaseException as exc:  # handed to the caller, StopIteration of a source included
            self.error = exc
        finally:
            self.done.set()


class TimedCall:
    """``call(kwargs)`` that waits at most ``timeout`` seconds for the plugin (an entry's
    ``timeout:``): each call runs in a thread of its own; one that takes longer raises
    ``TimeoutError`` here (the stage's policy decides what then happens to the frame) and is left
    to finish in the background. Python cannot stop a thread, so the plugin is not called again
    until that call has returned: a later call waits for it within its own ``timeout``."""

    __slots__ = ("function", "timeout", "busy", "timed_out")

    def __init__(self, function: Callable[[dict[str, Any]], Any], timeout: float) -> None:
        self.function = function
        self.timeout = timeout
        self.busy: _Job | None = None  # a call that timed out and has not returned yet
        self.timed_out = 0

    def __call__(self, kwargs: dict[str, Any]) -> Any:
        if self.busy is not None:
            if not self.busy.done.wait(self.timeout):
                self.timed_out += 1
                raise TimeoutError(f"still in a call that passed its timeout of {self.timeout:g} s earlier")
            self.busy = None
        job = _Job(self.function, kwargs)
        threading.Thread(target=job.run, name="drid-timed-call", daemon=True).start()
        if not job.done.wait(self.timeout):
            self.busy = job
            self.timed_out += 1
            raise TimeoutError(f"did not return within its timeout of {self.timeout:g} s")
        if job.error is not None:
            raise job.error
        return job.value


def bind(pm: pluggy.PluginManager, instance: Any, hook: str) -> BoundHook | None:
    """``instance``'s implementation of ``hook`` as registered in ``pm``, or ``None`` when it has
    none."""
    caller = getattr(pm.hook, hook, None)
    if caller is None:
        return None
    impl = next((i for i in caller.get_hookimpls() if i.plugin is instance), None)
    return None if impl is None else BoundHook(hook, impl)


def plugin_manager(plugins: list[tuple[str, Any, str]], *, where: str = "") -> pluggy.PluginManager:
    """A ``PluginManager`` with drid's hook specs and ``plugins`` (``(name, instance, config
    path)``, each instance once) registered and checked: a hook name that is no spec is a
    ``ConfigError``."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    seen: set[int] = set()
    for name, instance, path in plugins:
        if id(instance) in seen:
            continue
        seen.add(id(instance))
        try:
            pm.register(instance, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise ConfigError(f"plugin '{name}' has invalid hooks: {exc}", path=path, where=where) from None
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError(f"plugin '{getattr(exc, 'plugin_name', '?')}' implements a hook that does not exist: {exc}", where=where) from None
    return pm
