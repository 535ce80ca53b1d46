"""Facts in words, told as a narration: each fact has a topic (what it is about) and is said when
its topic is new, when what it says about the topic changes (``person 3 is walking left`` after
``… walking right``), or again after ``repeat_after`` seconds while it still holds — never every
frame. Events (``appeared``, ``crossed_line``…) are said once, when they happen."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from drid.schemas import SceneObject

__all__ = ["Narrator", "count_phrase", "motion_verb", "name_of", "object_name", "plural"]

_IRREGULAR = {"person": "people", "man": "men", "woman": "women", "child": "children", "bus": "buses", "mouse": "mice"}


def plural(label: str) -> str:
    if label in _IRREGULAR:
        return _IRREGULAR[label]
    if label.endswith(("s", "x", "ch", "sh")):
        return label + "es"
    return label + "s"


def count_phrase(n: int, label: str) -> str:
    """``1 person``, ``2 people``, ``no cars``."""
    if n == 0:
        return f"no {plural(label)}"
    return f"{n} {label if n == 1 else plural(label)}"


def name_of(label: str, oid: int, landmark: bool = False) -> str:
    """How a fact refers to an object: ``person 3``, or ``the table`` for a landmark."""
    return f"the {label}" if landmark else f"{label} {oid}"


def object_name(oid: int, obj: SceneObject | None) -> str:
    """How facts and evidence refer to object ``oid`` of a scene (``obj``, None when the scene
    does not hold it): ``person 3``, ``the table`` for a landmark, else ``object 3``."""
    if obj is None:
        return f"object {oid}"
    return name_of(obj.label, oid, landmark=bool(obj.attributes.get("landmark")))


def motion_verb(label: str, speed_mps: float | None) -> str:
    """``walking``/``running`` for people, ``driving`` for vehicles, else ``moving``."""
    if label in ("person", "pedestrian", "people"):
        return "running" if speed_mps is not None and speed_mps > 2.5 else "walking"
    if label in ("car", "truck", "bus", "vehicle", "van", "motorbike", "motorcycle"):
        return "driving"
    return "moving"


class Narrator:
    """Deduplicates facts over time. ``state(topic, gist, text, t)`` is for conditions that hold
    over time: ``text`` is said when the topic is new, its ``gist`` changed, or ``repeat_after``
    seconds passed since it was last said. ``event(text)`` is for one-off happenings.
    At most ``max_facts`` new topics are told per frame (events always are), so a crowd reads as
    a narration too. :meth:`flush` returns the frame's facts; a topic not held for ``grace`` seconds is forgotten,
    so a condition that ends and later comes back is told again, but a one-frame flicker is not."""

    def __init__(self, repeat_after: float | None = 10.0, grace: float = 1.0, max_facts: int | None = None) -> None:
        self.repeat_after = repeat_after
        self.grace = grace
        self.max_facts = max_facts  # states beyond this many facts in a frame wait for a later frame
        self._said: dict[Hashable, list] = {}  # topic → [gist, time said, time last held]
        self._out: list[str] = []

    def state(self, topic: Hashable, gist: Hashable, text: str | Callable[[], str], t: float, same: Callable[[Any, Any], bool] | None = None) -> None:
        """``same(said_gist, gist)`` may replace equality (a heading within some degrees);
        ``text`` may be a function, called only when the fact is told."""
        last = self._said.get(topic)
        unchanged = last is not None and (same(last[0], gist) if same is not None else last[0] == gist)
        if last is None and self.max_facts is not None and len(self._out) >= self.max_facts:
            return  # no room in this frame: the topic stays new and is told when there is
        if last is not None and unchanged and (self.repeat_after is None or t - last[1] < self.repeat_after):
            last[2] = t
        else:
            self._said[topic] = [gist, t, t]
            self._out.append(text if isinstance(text, str) else text())

    def knows(self, topic: Hashable) -> bool:
        """Whether ``topic`` was said and still holds (within ``grace``)."""
        return topic in self._said

    def told(self, topic: Hashable) -> Any:
        """The gist last told about ``topic`` (None when it is not held)."""
        last = self._said.get(topic)
        return None if last is None else last[0]

    def forget(self, topic: Hashable) -> None:
        """Drop ``topic``: the next statement about it is news again."""
        self._said.pop(topic, None)

    def event(self, text: str) -> None:
        self._out.append(text)

    def flush(self, t: float) -> tuple[str, ...]:
        for topic in [k for k, v in self._said.items() if t - v[2] > self.grace]:
            del self._said[topic]
        out = tuple(dict.fromkeys(self._out))
        self._out.clear()
        return out
