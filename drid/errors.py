"""drid's exceptions. Each renders as one line that names what was wrong and where."""

from __future__ import annotations

import difflib
import re
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
    """`` (did you mean 'a' or 'b'?)`` or an empty string: choices that ``word`` begins or is one
    ``_``/``-`` separated part of (``scale`` → ``scale_factor``) first, then spelling neighbours."""
    options = list(choices)
    low = word.lower()
    parts = [c for c in options if low and c.lower() != low and (c.lower().startswith(low) or low in re.split(r"[_\-.]", c.lower()))]
    matches = list(dict.fromkeys(parts + difflib.get_close_matches(word, options, n=3, cutoff=0.6)))[:3]
    if not matches:
        return ""
    quoted = [f"'{m}'" for m in matches]
    return f" (did you mean {' or '.join(quoted)}?)"


_SHOWN = 60  # characters of an offending input shown in a message


def short_repr(value: Any, budget: int = _SHOWN) -> str:
    """A ``repr`` of ``value`` in at most ``budget`` characters, for error messages: only the
    items that fit are formatted, so a huge input (a million items, aliases of aliases, a
    megabyte string, an image) costs no more than a small one. Use it for every offending value
    a message shows."""
    return _shown(value, budget)


def _shown(value: Any, budget: int = _SHOWN) -> str:
    """A short ``repr`` of ``value`` of at most ``budget`` characters, built piece by piece: a
    huge input (a list of a million items, a string of megabytes, a structure expanded from YAML
    aliases) is never formatted as a whole, only the few items that fit are."""
    text = _bounded(value, budget + 1, depth=0)
    return text if len(text) <= budget else text[: budget - 3] + "..."


def _bounded(value: Any, budget: int, depth: int) -> str:
    """``repr(value)`` cut to about ``budget`` characters, visiting only what fits."""
    if isinstance(value, str):
        return repr(value[:budget])
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<int of {value.bit_length()} bits>"  # repr() of a huge int is slow, or refused
    if isinstance(value, (bool, int, float, complex)) or value is None:
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."  # a long float or complex is cut
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        if depth >= 3:
            return f"<{type(value).__name__} of {len(value)} items>"
        brackets = {list: "[]", tuple: "()", dict: "{}"}.get(type(value), "{}")
        opening, closing = brackets[0], brackets[1]
        items = value.items() if isinstance(value, dict) else value
        parts: list[str] = []
        used = 2
        for i, item in enumerate(items):
            if used >= budget:
                parts.append(f"... {len(value) - i} more")
                break
            if isinstance(value, dict):
                key, val = item
                piece = f"{_bounded(key, budget - used, depth + 1)}: {_bounded(val, budget - used, depth + 1)}"
            else:
                piece = _bounded(item, budget - used, depth + 1)
            parts.append(piece)
            used += len(piece) + 2
        trailing = "," if isinstance(value, tuple) and len(value) == 1 else ""
        return opening + ", ".join(parts) + trailing + closing
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):  # a numpy array: its shape, not its pixels
        return f"<{type(value).__name__} shape {tuple(shape)} {value.dtype}>"
    return f"<{type(value).__name__}>"


def validation_message(error: Any) -> tuple[str, str]:
    """The one formatter of validation errors: a pydantic ``ValidationError`` (its first error)
    or one of its error dicts, as ``(dotted location, message)``, e.g.
    ``("detect[0].params.scale", "Input should be greater than 1 (got 0.5)")``."""
    err: dict[str, Any] = error.errors()[0] if hasattr(error, "errors") else error
    loc = ""
    for part in err.get("loc", ()):
        if part == "[key]":  # pydantic's marker of an error in a mapping's key: the key is named already
            continue
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
