"""Plugin discovery: the ``drid`` entry-point group, each plugin's roles and parameter schema."""

from __future__ import annotations

import importlib
import inspect
import typing
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from drid.errors import ConfigError, PluginLoadError, close_matches
from drid.pipeline.hookspecs import PROJECT, ROLE_HOOKS
from drid.pipeline.params import validate_params

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "Registry", "hooks_of", "params_model_of", "roles_of"]

ENTRY_POINT_GROUP = PROJECT
_IMPL_ATTR = PROJECT + "_impl"


def hooks_of(cls_or_obj: Any) -> dict[str, dict[str, Any]]:
    """The hooks a plugin class (or instance) implements: ``{hook name: hookimpl options}``."""
    found: dict[str, dict[str, Any]] = {}
    cls = cls_or_obj if inspect.isclass(cls_or_obj) else type(cls_or_obj)
    for attr in dir(cls):
        member = getattr(cls, attr, None)
        opts = getattr(member, _IMPL_ATTR, None)
        if isinstance(opts, dict):
            found[opts.get("specname") or attr] = opts
    return found


def roles_of(cls_or_obj: Any) -> list[str]:
    """Where a plugin may be listed in a pipeline config: source, detect, …, sink."""
    hooks = hooks_of(cls_or_obj)
    roles = []
    for role, names in ROLE_HOOKS.items():
        if names[0] in hooks:
            roles.append(role)
    return roles


def params_model_of(cls: type) -> type[BaseModel]:
    """The plugin's parameter schema: its ``Params`` model, or one built from ``__init__``.

    Unknown keys are always refused, whatever the model's own ``extra`` setting says."""
    declared = getattr(cls, "Params", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return declared
    init = next(vars(klass)["__init__"] for klass in cls.__mro__ if "__init__" in vars(klass))
    if init is object.__init__:
        return create_model(f"{cls.__name__}Params", __config__=ConfigDict(extra="forbid"))
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # unresolvable annotations: accept anything rather than refuse the plugin
        hints = {}
    fields: dict[str, Any] = {}
    for name, p in inspect.signature(init).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = ... if p.default is p.empty else p.default
        fields[name] = (hints.get(name, Any), default)
    return create_model(
        f"{cls.__name__}Params", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields
    )


@dataclass
class PluginInfo:
    """One discovered plugin: where it comes from, what it can do, what it takes."""

    name: str
    target: str
    distribution: str | None = None
    version: str | None = None
    cls: type | None = None
    error: str | None = None
    _params: type[BaseModel] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.cls is not None

    @property
    def roles(self) -> list[str]:
        return roles_of(self.cls) if self.cls is not None else []

    @property
    def description(self) -> str:
        doc = inspect.getdoc(self.cls) if self.cls is not None else None
        if not doc:
            return ""
        paragraph = " ".join(doc.strip().split("\n\n")[0].split())
        sentence_end = paragraph.find(". ")
        return paragraph[: sentence_end + 1] if 0 < sentence_end < len(paragraph) - 1 else paragraph

    @property
    def params_model(self) -> type[BaseModel]:
        if self.cls is None:
            raise PluginLoadError(f"plugin '{self.name}' failed to load: {self.error}")
        if self._params is None:
            self._params = params_model_of(self.cls)
        return self._params

    def parameters(self) -> list[dict[str, Any]]:
        """Name, type, default and description of each parameter."""
        out = []
        for pname, f in self.params_model.model_fields.items():
            ann = f.annotation
            plain = isinstance(ann, type) and not getattr(ann, "__args__", None)
            type_name = ann.__name__ if plain and ann is not None else str(ann).replace("typing.", "")
            out.append(
                {
                    "name": pname,
                    "type": type_name,
                    "required": f.is_required(),
                    "default": None if f.is_required() else _jsonable(f.get_default(call_default_factory=True)),
                    "description": f.description or "",
                }
            )
        return out

    def validate_params(self, params: dict[str, Any], *, path: str = "params", where: str = "") -> BaseModel:
        """Validated parameters, or a ``ConfigError`` at ``path`` naming the plugin, the key and
        the close matches of an unknown key (the check a :class:`~drid.pipeline.params.Plugin`
        makes in its constructor, with the config's location added)."""
        return validate_params(self.params_model, params, plugin=self.name, path=path, where=where)

    def instantiate(self, params: dict[str, Any] | BaseModel | None = None, *, path: str = "params", where: str = "") -> Any:
        validated = params if isinstance(params, BaseModel) else self.validate_params(params or {}, path=path, where=where)
        kwargs = {k: getattr(validated, k) for k in type(validated).model_fields}
        assert self.cls is not None
        try:
            return self.cls(**kwargs)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"plugin '{self.name}' refused its parameters: {exc}", path=path, where=where) from None
        except Exception as exc:
            raise PluginLoadError(f"plugin '{self.name}' failed to start: {type(exc).__name__}: {exc}") from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


class Registry:
    """The plugins drid knows: those declared in the ``drid`` entry-point group, loaded lazily,
    plus any added in-process with :meth:`add` (tests, notebooks)."""

    def __init__(self, *, discover: bool = True) -> None:
        self._entries: dict[str, EntryPoint] = {}
        self._conflicts: dict[str, list[str]] = {}
        self._infos: dict[str, PluginInfo] = {}
        if discover:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                if ep.name in self._entries and self._entries[ep.name].value != ep.value:
                    self._conflicts.setdefault(ep.name, [self._entries[ep.name].value]).append(ep.value)
                    continue
                self._entries.setdefault(ep.name, ep)

    def add(self, name: str, cls: type, *, distribution: str | None = None, version: str | None = None) -> PluginInfo:
        """Make ``cls`` available under ``name`` (replacing a plugin of that name)."""
        info = PluginInfo(name=name, target=f"{cls.__module__}:{cls.__qualname__}", distribution=distribution, version=version, cls=cls)
        self._infos[name] = info
        return info

    def names(self) -> list[str]:
        return sorted(set(self._entries) | set(self._infos))

    def __contains__(self, name: str) -> bool:
        return name in self._entries or name in self._infos

    def info(self, name: str) -> PluginInfo:
        """The plugin called ``name``, imported on first use. Never raises for an import failure:
        the returned info carries the error instead (see :meth:`get` for the raising form)."""
        if name in self._infos:
            return self._infos[name]
        ep = self._entries.get(name)
        if ep is None:
            raise KeyError(name)
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=name,
            target=ep.value,
            distribution=dist.name if dist is not None else None,
            version=dist.version if dist is not None else None,
        )
        try:
            loaded = ep.load()
            if not inspect.isclass(loaded):
                raise TypeError(f"{ep.value} is a {type(loaded).__name__}, not a plugin class")
            if not hooks_of(loaded):
                raise TypeError(f"{ep.value} has no @hookimpl methods")
            info.cls = loaded
        except Exception as exc:  # one broken plugin must not take the others down
            info.error = f"{type(exc).__name__}: {exc}"
        if name in self._conflicts:
            info.error = (info.error + "; " if info.error else "") + f"also declared as {', '.join(self._conflicts[name][1:])} (first one used)"
        self._infos[name] = info
        return info

    def _import_path(self, name: str, path: str, where: str) -> PluginInfo:
        """A plugin named by its import path, ``package.module:Class`` (unpublished plugins)."""
        module, _, attr = name.partition(":")
        info = PluginInfo(name=name, target=name)
        try:
            loaded: Any = importlib.import_module(module)
            for part in attr.split("."):
                loaded = getattr(loaded, part)
        except Exception as exc:
            raise ConfigError(f"cannot import plugin '{name}': {type(exc).__name__}: {exc}", path=path, where=where) from None
        if not inspect.isclass(loaded) or not hooks_of(loaded):
            raise ConfigError(f"'{name}' is not a plugin class (no @hookimpl methods)", path=path, where=where)
        info.cls = loaded
        self._infos[name] = info
        return info

    def name_of(self, cls: type) -> str | None:
        """The name this registry knows the plugin class ``cls`` by (its entry-point name, or the
        name it was added under), or ``None``. Only entry points that can be ``cls`` are loaded."""
        for name, info in self._infos.items():
            if info.cls is cls and ":" not in name:
                return name
        target = f"{cls.__module__}:{cls.__qualname__}"
        for name, ep in self._entries.items():
            if name in self._infos:
                continue
            if ep.value == target or ep.value.rpartition(":")[2] == cls.__qualname__:
                info = self.info(name)  # the entry point may re-export the class from elsewhere
                if info.cls is cls:
                    return name
        return None

    def get(self, name: str, *, path: str = "plugin", where: str = "") -> PluginInfo:
        """Like :meth:`info` but raises ``ConfigError`` (unknown name, with close matches) or
        ``ConfigError`` naming the import failure. A name of the form ``module:Class`` that is not
        registered is imported directly."""
        if name not in self and ":" in name:
            return self._import_path(name, path, where)
        if name not in self:
            hint = close_matches(name, self.names()) or " (run 'drid plugins' to list them)"
            raise ConfigError(f"unknown plugin '{name}'{hint}", path=path, where=where)
        info = self.info(name)
        if info.cls is None:
            raise ConfigError(f"plugin '{name}' ({info.target}) failed to load: {info.error}", path=path, where=where)
        return info

    def all(self) -> list[PluginInfo]:
        """Every plugin, loading each; failures are reported in ``PluginInfo.error``."""
        return [self.info(n) for n in self.names()]


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry built from the installed entry points (built once)."""
    global _default
    if _default is None:
        _default = Registry()
    return _default
