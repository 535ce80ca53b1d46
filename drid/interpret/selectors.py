"""Object selectors of the condition language (``objects``, a relation's ``subject`` and
``object``, an event's ``object``): a label, a list of labels, or a mapping of ``label``, ``id``,
``moving``, ``zone``, ``min_dwell_s``, ``min_speed`` / ``max_speed`` with ``unit``,
``min_score``, ``min_age_s`` and ``landmark`` (see :mod:`drid.interpret.conditions`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drid.errors import close_matches, short_repr
from drid.schemas import SceneObject

__all__ = ["Selector", "flag", "labels_of", "number", "parse_selector", "unknown_key"]

_SPEED_KEYS = {"px/s": "speed_px_s", "m/s": "speed_m_s", "km/h": "speed_km_h"}

_SELECTOR_KEYS = ("label", "id", "moving", "zone", "min_dwell_s", "min_speed", "max_speed", "unit", "min_score", "min_age_s", "landmark")


@dataclass
class Selector:
    """Which objects a condition is about; calling it with an object says whether it matches.
    ``text`` names them in words (``person moving in zone 'road'``)."""

    labels: frozenset[str] | None = None
    ids: frozenset[int] | None = None
    moving: bool | None = None
    zone: str | None = None
    min_dwell_s: float | None = None
    min_speed: float | None = None
    max_speed: float | None = None
    unit: str = "px/s"
    min_score: float | None = None
    min_age_s: float | None = None
    landmark: bool | None = None
    text: str = "object"
    qualifiers: str = ""  # the text without the labels: "moving in zone 'road'"

    def __call__(self, obj: SceneObject) -> bool:
        a = obj.attributes
        if self.labels is not None and obj.label not in self.labels:
            return False
        if self.ids is not None and obj.id not in self.ids:
            return False
        if self.moving is not None and bool(a.get("moving", False)) != self.moving:
            return False
        if self.landmark is not None and bool(a.get("landmark", False)) != self.landmark:
            return False
        if self.zone is not None:
            zones = a.get("zones")
            if not isinstance(zones, dict) or self.zone not in zones:
                return False
            if self.min_dwell_s is not None and float(zones[self.zone] or 0.0) < self.min_dwell_s:  # type: ignore[arg-type]
                return False
        if self.min_speed is not None or self.max_speed is not None:
            speed = a.get(_SPEED_KEYS[self.unit])
            if not isinstance(speed, (int, float)):
                return False
            if self.min_speed is not None and speed < self.min_speed:
                return False
            if self.max_speed is not None and speed > self.max_speed:
                return False
        if self.min_score is not None and obj.score < self.min_score:
            return False
        if self.min_age_s is not None:
            age = a.get("age_s")
            if not isinstance(age, (int, float)) or age < self.min_age_s:
                return False
        return True


def labels_of(value: Any, path: str) -> frozenset[str]:
    """A label or a non-empty list of labels, as a set; ``ValueError`` at ``path`` otherwise."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items or not all(isinstance(v, str) and v for v in items):
        raise ValueError(f"{path}: expected a label or a list of labels, got {short_repr(value)}")
    return frozenset(items)


def number(value: Any, path: str) -> float:
    """A number (not a bool), as a float; ``ValueError`` at ``path`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{path}: expected a number, got {short_repr(value)}")
    return float(value)


def flag(value: Any, path: str) -> bool:
    """``true`` or ``false``; ``ValueError`` at ``path`` otherwise."""
    if not isinstance(value, bool):
        raise ValueError(f"{path}: expected true or false, got {short_repr(value)}")
    return value


def unknown_key(key: str, known: Iterable[str], path: str, what: str) -> ValueError:
    """The error for an unknown ``what`` (key, condition) at ``path``, with close matches."""
    known = list(known)
    return ValueError(f"{path}: unknown {what} '{key}'{close_matches(key, known) or ' (known: ' + ', '.join(known) + ')'}")


def parse_selector(data: Any, path: str, extra: Sequence[str] = ()) -> tuple[Selector, dict[str, Any]]:
    """A selector from a label, a list of labels or a mapping; returns it with the mapping's
    ``extra`` keys (``at_least``…) left for the caller."""
    if isinstance(data, (str, list, tuple)):
        labels = labels_of(data, path)
        return Selector(labels=labels, text=" or ".join(sorted(labels))), {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a label or a mapping of {', '.join(_SELECTOR_KEYS)}, got {short_repr(data)}")
    sel = Selector()
    rest: dict[str, Any] = {}
    words: list[str] = []
    for key, value in data.items():
        where = f"{path}.{key}"
        if key in extra:
            rest[key] = value
        elif key == "label":
            sel.labels = labels_of(value, where)
        elif key == "id":
            ids = [value] if isinstance(value, int) and not isinstance(value, bool) else value
            if not isinstance(ids, (list, tuple)) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise ValueError(f"{where}: expected an object id or a list of ids, got {short_repr(value)}")
            sel.ids = frozenset(ids)
        elif key == "moving":
            sel.moving = flag(value, where)
        elif key == "landmark":
            sel.landmark = flag(value, where)
        elif key == "zone":
            if not isinstance(value, str) or not value:
                raise ValueError(f"{where}: expected a zone name, got {short_repr(value)}")
            sel.zone = value
        elif key == "unit":
            if value not in _SPEED_KEYS:
                raise ValueError(f"{where}: expected one of {', '.join(_SPEED_KEYS)}, got {short_repr(value)}")
            sel.unit = value
        elif key in ("min_dwell_s", "min_speed", "max_speed", "min_score", "min_age_s"):
            setattr(sel, key, number(value, where))
        else:
            raise unknown_key(str(key), (*_SELECTOR_KEYS, *extra), path, "key")
    if sel.min_dwell_s is not None and sel.zone is None:
        raise ValueError(f"{path}.min_dwell_s: needs a zone")
    if sel.ids is not None:
        words.append("#" + "/".join(str(i) for i in sorted(sel.ids)))
    if sel.moving is not None:
        words.append("moving" if sel.moving else "stationary")
    if sel.zone is not None:
        words.append(f"in zone '{sel.zone}'" + (f" for >= {sel.min_dwell_s:g} s" if sel.min_dwell_s is not None else ""))
    if sel.min_speed is not None:
        words.append(f"faster than {sel.min_speed:g} {sel.unit}")
    if sel.max_speed is not None:
        words.append(f"slower than {sel.max_speed:g} {sel.unit}")
    if sel.min_age_s is not None:
        words.append(f"seen for >= {sel.min_age_s:g} s")
    sel.qualifiers = " ".join(words)
    sel.text = " ".join([" or ".join(sorted(sel.labels)) if sel.labels else "object", *words])
    return sel, rest
