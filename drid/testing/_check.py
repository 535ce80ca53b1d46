"""``check_plugin``: a plugin class checked the way drid will use it, before any pipeline runs."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from drid.errors import ConfigError, close_matches
from drid.pipeline import hookspecs
from drid.pipeline.params import plugin_name, validate_params
from drid.pipeline.registry import hooks_of, params_model_of, roles_of

__all__ = ["PluginCheck", "check_plugin"]

#: The hook specifications, by name: what a ``@hookimpl`` method may be called.
_SPECS: dict[str, Any] = {name: getattr(hookspecs, name) for name in hookspecs.HOOKS}
_PLACING_HOOKS = sorted({names[0] for names in hookspecs.ROLE_HOOKS.values()})
_UNKNOWN_KEY = "drid_check_unknown_parameter"


@dataclass(frozen=True)
class PluginCheck:
    """What :func:`check_plugin` found about a plugin class that passed."""

    name: str
    """The name it goes by when passed to a pipeline in Python (``drid_name`` or kebab case)."""
    roles: tuple[str, ...]
    """The places of a pipeline config it can be listed under (``source``, ``detect``, …, ``sink``)."""
    hooks: tuple[str, ...]
    """The hooks it implements."""
    parameters: tuple[str, ...]
    """Its parameters, in declaration order."""
    required: tuple[str, ...]
    """The parameters without a default that ``check_plugin`` was not given (it was then not built)."""
    built: bool
    """Whether an instance was built (with the defaults and the ``params`` given)."""
    not_built: str = ""
    """Why no instance was built: the missing parameters, or what its ``Params`` model says the
    defaults alone lack (``give 'env' or 'actions'``); pass ``params`` to build one."""


def _arguments(cls: type, attr: str) -> list[str]:
    """The named arguments a hook method takes (without ``self``)."""
    static = isinstance(inspect.getattr_static(cls, attr), staticmethod)
    params = list(inspect.signature(getattr(cls, attr)).parameters.values())[0 if static else 1:]
    return [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _hook_problems(cls: type, hooks: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    marked = {attr for attr in dir(cls) if isinstance(getattr(getattr(cls, attr, None), hookspecs.PROJECT + "_impl", None), dict)}
    for attr in dir(cls):
        if attr.startswith("drid_") and attr in _SPECS and attr not in marked and callable(getattr(cls, attr)):
            problems.append(f"method {attr} is not marked @hookimpl (from drid import hookimpl): drid never calls it")
    if not hooks:
        problems.append("it implements no hook (no method carries @hookimpl)")
        return problems
    for attr in sorted(marked):
        method = getattr(cls, attr)
        opts = getattr(method, hookspecs.PROJECT + "_impl")
        name = opts.get("specname") or attr
        spec = _SPECS.get(name)
        if spec is None:
            problems.append(f"unknown hook '{name}'{close_matches(name, _SPECS)} (hooks: {', '.join(_SPECS)})")
            continue
        given = list(inspect.signature(spec).parameters)
        taken = _arguments(cls, attr)
        extra = [p for p in taken if p not in given]
        if extra:
            offered = ", ".join(given) or "no arguments"
            problems.append(f"{attr} takes {', '.join(repr(p) for p in extra)}, which the hook does not give (it gives: {offered})")
        if (opts.get("wrapper") or opts.get("hookwrapper")) and not inspect.isgeneratorfunction(method):
            problems.append(f"{attr} is a wrapper but not a generator (a wrapper does 'result = yield' and returns the replacement)")
    if not roles_of(cls) and not problems:
        problems.append(f"none of its hooks places it in a pipeline (it needs one of: {', '.join(_PLACING_HOOKS)})")
    if not (cls.__doc__ or "").strip():
        undocumented = [attr for attr in sorted(marked) if not (getattr(cls, attr).__doc__ or "").strip()]
        if undocumented:
            problems.append(f"neither the class nor its hooks {', '.join(undocumented)} have a docstring ('drid plugins' shows the class's first sentence)")
    return problems


def _build(cls: type, model: type[BaseModel], params: dict[str, Any], problems: list[str]) -> str:
    """Builds ``cls`` as a config would (validated parameters as keywords): ``""`` when built,
    else why not (a problem is also recorded unless only a cross-parameter rule said no)."""
    name = plugin_name(cls)
    # Defaults spelled out, so that a default its own bounds refuse shows here (pydantic does
    # not validate defaults), as it would in a config that names it.
    defaults = {k: f.get_default(call_default_factory=True) for k, f in model.model_fields.items() if not f.is_required()}
    try:
        validated = validate_params(model, {**defaults, **params}, plugin=name)
    except ConfigError as exc:
        if not params and exc.path == "params":  # a rule over several parameters: the defaults alone are not a config
            return exc.message
        what = "the parameters given" if params else "its defaults"
        problems.append(f"{what} are refused: {exc}")
        return str(exc)
    kwargs = {k: getattr(validated, k) for k in type(validated).model_fields}
    try:
        cls(**kwargs)
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        problems.append(f"it cannot be built with {'the parameters given' if params else 'its defaults'}: {why}")
        return why
    if isinstance(getattr(cls, "Params", None), type):
        try:
            cls(**kwargs, **{_UNKNOWN_KEY: 1})
        except (ConfigError, TypeError, ValueError):
            pass
        else:
            problems.append(f"its constructor accepts an unknown parameter ('{_UNKNOWN_KEY}') silently: "
                            "validate in the constructor (subclass drid.pipeline.params.Plugin)")
    return ""


def check_plugin(cls: type, params: dict[str, Any] | None = None) -> PluginCheck:
    """Checks a plugin class the way drid will use it, and says what it found.

    It must implement hooks, under known hook names, with arguments the hooks give; at least one
    of them must place it in a pipeline (source, a stage, or sink). Its parameter schema (its
    ``Params`` model, or its constructor's signature) must build; it is built with its defaults
    and ``params`` (unless a parameter without a default is missing: those are reported in
    ``required``), and a class that declares ``Params`` must refuse an unknown parameter in its
    constructor too. The class, or else every hook, needs a docstring.

    Returns a :class:`PluginCheck`; raises ``AssertionError`` listing every problem found::

        from drid.testing import check_plugin

        def test_my_plugin_is_a_drid_plugin():
            assert check_plugin(MyDetector).roles == ("detect",)
    """
    if not inspect.isclass(cls):
        raise AssertionError(f"check_plugin takes the plugin class, not {type(cls).__name__} {cls!r}")
    problems: list[str] = []
    hooks = hooks_of(cls)
    problems += _hook_problems(cls, hooks)
    fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    not_built = "its parameter schema does not build"
    try:
        model = params_model_of(cls)
    except Exception as exc:
        problems.append(f"its parameter schema does not build: {type(exc).__name__}: {exc}")
    else:
        fields = tuple(model.model_fields)
        given = dict(params or {})
        required = tuple(k for k, f in model.model_fields.items() if f.is_required() and k not in given)
        not_built = f"no value for {', '.join(required)}" if required else _build(cls, model, given, problems)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise AssertionError(f"{cls.__module__}.{cls.__qualname__} is not a working drid plugin:\n{listed}")
    return PluginCheck(name=plugin_name(cls), roles=tuple(roles_of(cls)), hooks=tuple(sorted(hooks)), parameters=fields, required=required,
                       built=not not_built, not_built=not_built)
