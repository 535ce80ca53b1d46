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

A parameter that names a file to read is declared ``Annotated[str, InputPath()]``: a relative
path written in a config file is read from that file's folder (see :class:`InputPath`).

``Blur(size=0)`` raises the same ``ConfigError`` as ``{plugin: blur, params: {size: 0}}`` in a
config (minus the config's file and path), and ``inspect.signature(Blur)`` shows ``size``.
A subclass that needs more set-up overrides ``__init__(self, **params)`` and calls
``super().__init__(**params)`` first; ``self.params`` is then the validated, frozen model.
"""

from __future__ import annotations

import glob
import inspect
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic_core import core_schema

from drid.errors import ConfigError, close_matches, validation_message

__all__ = ["ConfigText", "InputPath", "Plugin", "PluginParams", "resolve_input_path", "validate_params"]


class ConfigText(str):
    """A string read from a config file, which remembers the folder of that file (``base``), so
    that an :class:`InputPath` parameter written in the file is read relative to the file, not to
    the working directory. It is a ``str`` in every other respect; strings from ``--set``, the
    command line or Python code are plain ``str`` and stay relative to the working directory."""

    base: str

    def __new__(cls, value: str, base: str) -> ConfigText:
        text = super().__new__(cls, value)
        text.base = base
        return text

    def __reduce__(self) -> tuple[Any, ...]:  # pickled (Ray, multiprocessing) with its folder
        return (ConfigText, (str(self), self.base))

    def __copy__(self) -> ConfigText:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ConfigText:
        return self


#: ``pkg:``, ``bundled:``, ``rtsp://``, ``https://`` …: a reference with a scheme is never a
#: relative path (two letters at least, so that ``C:`` stays a Windows drive).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:")
_GLOB = re.compile(r"[*?\[]")


def resolve_input_path(value: Any, *, exists: bool = True, names: bool = False, special: bool = False) -> Any:
    """The rule of :class:`InputPath`, as a function: ``value`` resolved and checked.

    * not a string (a camera index), empty, or with a scheme (``pkg:``, ``bundled:``, a URL): as is;
    * with ``names``, a bare word (no folder, no suffix: ``digits``, ``frontalface``): as is;
    * ``~`` is expanded; an absolute path is kept;
    * a relative path read from a config file (a :class:`ConfigText`) is joined to the file's
      folder; any other relative path stays relative to the working directory;
    * with ``exists``, the file (or folder) must exist and a glob must match something; unless
      ``special``, a named pipe or a device is refused (reading it could block forever).

    Raises ``ValueError`` with the path as resolved; the parameter check adds plugin, key and file."""
    if not isinstance(value, str) or not value or _SCHEME.match(value):
        return value
    text = str(value)
    if names and "/" not in text and "\\" not in text and "." not in text and not _GLOB.search(text):
        return text
    path = Path(text).expanduser()
    base = getattr(value, "base", None)
    from_config = bool(base) and not path.is_absolute()
    if from_config:
        path = Path(str(base)) / path
    resolved = str(path) if (from_config or text.startswith("~")) else text
    if exists:
        where = f" (a relative path in a config is read from the config's folder, {base})" if from_config else ""
        if _GLOB.search(resolved):
            if not glob.glob(resolved, recursive=True):
                raise ValueError(f"no file matches '{resolved}'{where}")
        else:
            try:
                mode = os.stat(resolved).st_mode
            except OSError:
                raise ValueError(f"no such file or folder: '{resolved}'{where}") from None
            if not special and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise ValueError(f"'{resolved}' is not a regular file or folder (a named pipe or a device would block the run)")
    return resolved


@dataclass(frozen=True)
class InputPath:
    """Marks a parameter as a file (or folder, or glob) that the plugin reads::

        path: Annotated[str, InputPath()] = Field(description="a video file")
        model: Annotated[str, InputPath(names=True)] = "digits"   # a bundled name or a file

    A relative path written in a config file is read from the config file's folder, so a config
    works from any working directory; paths given on the command line (``--set``) or in Python
    stay relative to the working directory; absolute paths, ``~`` and references with a scheme
    (``pkg:``, ``bundled:``, URLs) are never touched. The file must exist when the parameters
    are checked (``exists=False`` to allow one that appears later), so a missing input is a
    config error naming the config file and key, before anything runs. The JSON schema of the
    parameter says ``"format": "path"``.
    """

    exists: bool = True
    names: bool = False
    special: bool = False

    def _check(self, value: Any) -> Any:
        return resolve_input_path(value, exists=self.exists, names=self.names, special=self.special)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        json_schema = dict(handler(schema))
        json_schema.setdefault("format", "path")
        return json_schema


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

