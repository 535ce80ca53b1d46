"""One declaration per parameter: a plugin's ``Params`` model is its parameter schema, checked the
same way whether the plugin is built from a config or in Python.

A built-in plugin (and any plugin that wants this) subclasses :class:`Plugin`::

    class Blur(Plugin):
        \"\"\"Blurs frames.\"\"\"

        class Params(PluginParams):
            size: int = Field(default=5, ge=1, description="kernel size in pixels")

        params: Params  # typed access: self.params.size

        @hookimpl
        def drid_detect(self, frame): ...

``Blur(size=0)`` raises the same ``ConfigError`` as ``{plugin: blur, params: {size: 0}}`` in a
config (minus the config's file and path), and ``inspect.signature(Blur)`` shows ``size``.
A subclass that needs more set-up overrides ``__init__(self, **params)`` and calls
``super().__init__(**params)`` first; ``self.params`` is then the validated, frozen model.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from drid.errors import ConfigError, close_matches, validation_message

__all__ = ["Plugin", "PluginParams", "validate_params"]


class PluginParams(BaseModel):
    """Base of parameter models: unknown keys are refused and values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _kebab(name: str) -> str:
    name = name.lstrip("_") or name  # a private class name: no leading dash
    out = [name[0].lower()]
    for ch in name[1:]:
        out.append(f"-{ch.lower()}" if ch.isupper() else ch)
    return "".join(out)


def plugin_name(cls_or_obj: Any) -> str:
    """The name a plugin goes by when it was not named in a config: its ``drid_name`` class
    attribute, else its class name in kebab case (``BrightSpot`` → ``bright-spot``). The engine asks the
    registry first, so a class published under an entry-point name goes by that name."""
    cls = cls_or_obj if inspect.isclass(cls_or_obj) else type(cls_or_obj)
    return getattr(cls, "drid_name", None) or _kebab(cls.__name__)


def validate_params(model: type[BaseModel], params: dict[str, Any], *, plugin: str, path: str = "params", where: str = "") -> BaseModel:
    """``params`` validated by ``model``, or a ``ConfigError`` at ``path`` naming the plugin, the
    key, and the close matches of an unknown key."""
    known = model.model_fields
    for key in params:
        if key not in known:
            hint = close_matches(str(key), known) or (f" (it takes: {', '.join(known)})" if known else " (it takes none)")
            raise ConfigError(f"unknown parameter of plugin '{plugin}'{hint}", path=f"{path}.{key}", where=where)
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        loc, msg = validation_message(exc)
        raise ConfigError(f"plugin '{plugin}': {msg}", path=f"{path}.{loc}" if loc else path, where=where) from None


class Plugin:
    """Optional base class of plugins whose parameters are declared once, in ``Params``.

    The constructor takes the parameters as keywords, validates them against ``Params`` and keeps
    the result in ``self.params``. Subclasses declare ``Params`` (a :class:`PluginParams`) and
    ``params: Params`` for typed access."""

    Params: ClassVar[type[BaseModel]] = PluginParams
    params: BaseModel

    def __init__(self, **params: Any) -> None:
        self.params = validate_params(type(self).Params, params, plugin=plugin_name(self))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        model = cls.Params
        cls.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=inspect.Parameter.empty if f.is_required() else f.get_default(call_default_factory=True),
                    annotation=f.annotation,
                )
                for name, f in model.model_fields.items()
            ]
        )

