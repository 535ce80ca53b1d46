"""drid's exceptions. Each renders as one line that names what was wrong and where."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class DridError(Exception):
    """Base of every error drid raises on purpose; the CLI prints it as one line, exit code 1."""

    exit_code = 1


class ConfigError(DridError):
    """A pipeline config is wrong: raised before any frame is read. Exit code 2.

    ``where`` is the file (if any) and ``path`` the dotted location in the config
    (``detect[0].params.scale``)."""

    exit_code = 2

    def __init__(self, message: str, *, path: str = "", where: str = "") -> None:
        self.path = path
        self.where = where
        self.message = message
        location = ": ".join(p for p in (where, path) if p)
        super().__init__(f"{location}: {message}" if location else message)


class PluginLoadError(DridError):
    """A plugin could not be imported or instantiated."""


class SourceError(DridError):
    """A source cannot be read at all (missing or corrupt file, camera that does not open)."""


class StageError(DridError):
    """A plugin failed on a frame under the ``fail`` policy, or returned the wrong type.

    Names the stage, the plugin, the frame and, when known, the plugin's ``path`` in the config
    (``detect[0]``): ``detect[0]: stage 'detect', plugin 'motion', frame clip.mp4#3: ...``."""

    def __init__(self, stage: str, plugin: str, frame: str, error: BaseException | str, *, path: str = "") -> None:
        self.stage = stage
        self.plugin = plugin
        self.frame = frame
        self.error = error
        self.path = path
        detail = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        super().__init__(f"{path + ': ' if path else ''}stage '{stage}', plugin '{plugin}', frame {frame}: {detail}")


def close_matches(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'a' or 'b'?)`` or an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not matches:
        return ""
    quoted = [f"'{m}'" for m in matches]
    return f" (did you mean {' or '.join(quoted)}?)"


_SHOWN = 60  # characters of an offending input shown in a message


def _shown(value: Any) -> str:
    """A short ``repr`` of ``value`` that never formats more than a few items of a large input."""
    if isinstance(value, (list, tuple, set, dict)) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)} items>"
    if isinstance(value, str) and len(value) > _SHOWN:
        value = value[:_SHOWN]
    shown = repr(value)
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 3] + "..."


def validation_message(error: Any) -> tuple[str, str]:
    """The one formatter of validation errors: a pydantic ``ValidationError`` (its first error)
    or one of its error dicts, as ``(dotted location, message)``, e.g.
    ``("detect[0].params.scale", "Input should be greater than 1 (got 0.5)")``."""
    err: dict[str, Any] = error.errors()[0] if hasattr(error, "errors") else error
    loc = ""
    for part in err.get("loc", ()):
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    msg = err.get("msg", "invalid")
    if err.get("type") == "missing":
        msg = "required but missing"
    elif "input" in err and err.get("type") not in ("extra_forbidden",):
        msg = f"{msg} (got {_shown(err['input'])})"
    return loc, msg


def validation_text(error: Any) -> str:
    """``validation_message`` as one string: ``location: message``."""
    loc, msg = validation_message(error)
    return f"{loc}: {msg}" if loc else msg
