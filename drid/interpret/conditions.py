"""The condition language of ``scene-rules`` (situations) and the ``rules`` policy (actions): one
language, written in YAML, over a ``Scene``'s objects, relations, events and situations.

A condition is a mapping with one key (a list is shorthand for ``all``)::

    label: person                                  # at least one person in the scene
    objects: {label: person, zone: road, at_least: 2}
    relation: {subject: person, predicate: near, object: {label: car, moving: true}}
    event: {name: crossed_line, data: {line: gate, direction: rightward}, object: car}
    situation: pedestrian_in_path                  # set by scene-rules (a list: any of them)
    all: [cond, ...]     any: [cond, ...]     not: cond

An object selector (``objects``, and ``subject``/``object`` of a relation, ``object`` of an event)
is a label, a list of labels, or a mapping of: ``label``, ``id``, ``moving`` (true/false),
``zone`` (in that zone now), ``min_dwell_s`` (in ``zone`` at least that long), ``min_speed`` /
``max_speed`` with ``unit`` (``px/s`` — the default —, ``m/s`` or ``km/h``: metric speeds need a
calibration), ``min_score``, ``min_age_s`` (seen for at least that long), ``landmark``.
``objects`` also takes ``at_least`` (default 1) and ``at_most``. ``relation`` takes
``min_confidence`` and a list of predicates (any of them). Symmetric predicates (``near``,
``next_to``, ``overlaps``) match either way round, and ``a left_of b`` also matches a scene that
only says ``b right_of a``.

Object attributes come from the ``relations`` interpreter (``moving``, ``speed_px_s``,
``speed_m_s``, ``zones``, ``age_s``…): without it only labels, ids, scores and relations given
by other interpreters can match. Every condition that holds returns its evidence — short phrases
such as ``person 3 near car 1 (0.82)`` — which rationales and facts quote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drid.errors import close_matches, short_repr
from drid.interpret.facts import object_name
from drid.interpret.relations import INVERSE, PREDICATES, SYMMETRIC
from drid.interpret.selectors import Selector, labels_of, number, parse_selector, unknown_key
from drid.schemas import Event, Relation, Scene, SceneObject

__all__ = ["KNOWN_EVENTS", "KNOWN_PREDICATES", "Condition", "SceneView", "parse_condition"]

KNOWN_PREDICATES = (*PREDICATES, "approaching", "moving_away")
KNOWN_EVENTS = ("appeared", "left", "started_moving", "stopped", "entered_zone", "exited_zone", "crossed_line", "situation_started", "situation_ended")


class SceneView:
    """A ``Scene`` indexed for condition tests (build once per frame). ``evidence`` maps a
    situation to the phrases that established it, when known."""

    def __init__(self, scene: Scene, evidence: Mapping[str, Sequence[str]] | None = None) -> None:
        self.scene = scene
        self.objects: dict[int, SceneObject] = {o.id: o for o in scene.objects}
        self.by_predicate: dict[str, list[Relation]] = {}
        for rel in scene.relations:
            self.by_predicate.setdefault(rel.predicate, []).append(rel)
        self.situations = set(scene.situations)
        self.evidence = dict(evidence or {})

    def name(self, oid: int) -> str:
        return object_name(oid, self.objects.get(oid))


@dataclass
class Condition:
    """Base: ``test(view)`` returns the evidence (a list of phrases) when the condition holds,
    else None; ``text`` says what it requires, in words."""

    text: str = ""

    def test(self, view: SceneView) -> list[str] | None:
        raise NotImplementedError


# -- conditions ---------------------------------------------------------------------------------


@dataclass
class AllOf(Condition):
    parts: list[Condition] = field(default_factory=list)

    def test(self, view: SceneView) -> list[str] | None:
        evidence: list[str] = []
        for part in self.parts:
            found = part.test(view)
            if found is None:
                return None
            evidence.extend(found)
        return evidence


@dataclass
class AnyOf(Condition):
    parts: list[Condition] = field(default_factory=list)

    def test(self, view: SceneView) -> list[str] | None:
        for part in self.parts:
            found = part.test(view)
            if found is not None:
                return found
        return None


@dataclass
class Not(Condition):
    part: Condition = field(default_factory=Condition)

    def test(self, view: SceneView) -> list[str] | None:
        return None if self.part.test(view) is not None else [f"no {self.part.text}"]


@dataclass
class Objects(Condition):
    selector: Selector = field(default_factory=Selector)
    at_least: int = 1
    at_most: int | None = None

    def test(self, view: SceneView) -> list[str] | None:
        found = [o for o in view.scene.objects if self.selector(o)]
        n = len(found)
        if n < self.at_least or (self.at_most is not None and n > self.at_most):
            return None
        if not found:
            return [f"no {self.selector.text}"]
        names = ", ".join(view.name(o.id) for o in found[:5]) + (", ..." if n > 5 else "")
        qualifiers = f" {self.selector.qualifiers}" if self.selector.qualifiers else ""
        return [f"{names}{qualifiers}" + (f" ({n} in all)" if n > 1 else "")]


@dataclass
class RelationIs(Condition):
    subject: Selector = field(default_factory=Selector)
    predicates: tuple[str, ...] = ()
    object: Selector = field(default_factory=Selector)
    min_confidence: float = 0.0

    def test(self, view: SceneView) -> list[str] | None:
        objs = view.objects
        for predicate in self.predicates:
            candidates = [(r, r.subject, r.object) for r in view.by_predicate.get(predicate, ())]
            if predicate in SYMMETRIC:
                candidates += [(r, r.object, r.subject) for r in view.by_predicate.get(predicate, ())]
            elif predicate in INVERSE:
                candidates += [(r, r.object, r.subject) for r in view.by_predicate.get(INVERSE[predicate], ())]
            for rel, s, o in candidates:
                if rel.confidence < self.min_confidence:
                    continue
                so, oo = objs.get(s), objs.get(o)
                if so is not None and oo is not None and self.subject(so) and self.object(oo):
                    return [f"{view.name(s)} {predicate.replace('_', ' ')} {view.name(o)} ({rel.confidence:.2f})"]
        return None


@dataclass
class EventIs(Condition):
    names: frozenset[str] = frozenset()
    data: dict[str, Any] = field(default_factory=dict)
    selector: Selector | None = None

    def test(self, view: SceneView) -> list[str] | None:
        for event in view.scene.events:
            if event.name not in self.names:
                continue
            if any(event.data.get(k) != v for k, v in self.data.items()):
                continue
            if self.selector is not None and not any(o in view.objects and self.selector(view.objects[o]) for o in event.objects):
                continue
            return [_event_phrase(event, view)]
        return None


def _event_phrase(event: Event, view: SceneView) -> str:
    who = ", ".join(view.name(o) for o in event.objects)
    details = ", ".join(f"{k}={v}" for k, v in event.data.items() if k not in ("label", "count", "because"))
    return f"{who + ' ' if who else ''}{event.name.replace('_', ' ')}" + (f" ({details})" if details else "")


@dataclass
class SituationIs(Condition):
    names: tuple[str, ...] = ()

    def test(self, view: SceneView) -> list[str] | None:
        for name in self.names:
            if name in view.situations:
                because = view.evidence.get(name)
                return [f"situation {name}" + (f" ({'; '.join(because)})" if because else "")]
        return None


_KEYS = ("all", "any", "not", "label", "objects", "object", "relation", "event", "situation")


def parse_condition(data: Any, path: str = "when") -> Condition:
    """A ``Condition`` from its YAML form; ``ValueError`` naming the location of the first
    mistake (``when.relation.predicate: unknown predicate 'nearr' (did you mean 'near'?)``)."""
    if isinstance(data, list):
        return _combine(AllOf, data, path, "all of")
    if not isinstance(data, Mapping) or len(data) != 1:
        shown = list(data) if isinstance(data, Mapping) else short_repr(data)
        raise ValueError(f"{path}: a condition is a mapping with exactly one of {', '.join(_KEYS)} (got {shown})")
    key, value = next(iter(data.items()))
    where = f"{path}.{key}"
    if key == "all":
        return _combine(AllOf, value, where, "all of")
    if key == "any":
        return _combine(AnyOf, value, where, "any of")
    if key == "not":
        inner = parse_condition(value, where)
        return Not(text=f"not ({inner.text})", part=inner)
    if key == "label":
        labels = labels_of(value, where)
        sel = Selector(labels=labels, text=" or ".join(sorted(labels)))
        return Objects(text=sel.text, selector=sel)
    if key in ("objects", "object"):
        sel, rest = parse_selector(value, where, extra=("at_least", "at_most"))
        at_least = rest.get("at_least", 1)
        at_most = rest.get("at_most")
        for k, v in (("at_least", at_least), ("at_most", at_most)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ValueError(f"{where}.{k}: expected a count >= 0, got {short_repr(v)}")
        text = f"{'at least ' + str(at_least) + ' ' if at_least != 1 else ''}{sel.text}" + (f" (at most {at_most})" if at_most is not None else "")
        return Objects(text=text, selector=sel, at_least=at_least, at_most=at_most)
    if key == "relation":
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected {{subject: ..., predicate: ..., object: ...}}, got {short_repr(value)}")
        for k in value:
            if k not in ("subject", "predicate", "object", "min_confidence"):
                raise unknown_key(str(k), ("subject", "predicate", "object", "min_confidence"), where, "key")
        if "predicate" not in value:
            raise ValueError(f"{where}.predicate: required (one of {', '.join(KNOWN_PREDICATES)})")
        preds = value["predicate"]
        preds = [preds] if isinstance(preds, str) else preds
        if not isinstance(preds, (list, tuple)) or not preds:
            raise ValueError(f"{where}.predicate: expected a predicate or a list, got {short_repr(value['predicate'])}")
        for p in preds:
            _check_name(p, KNOWN_PREDICATES, f"{where}.predicate", "predicate")
        subject, _ = parse_selector(value.get("subject", {}), f"{where}.subject")
        obj, _ = parse_selector(value.get("object", {}), f"{where}.object")
        conf = number(value.get("min_confidence", 0.0), f"{where}.min_confidence")
        text = f"{subject.text} {' or '.join(p.replace('_', ' ') for p in preds)} {obj.text}"
        return RelationIs(text=text, subject=subject, predicates=tuple(preds), object=obj, min_confidence=conf)
    if key == "event":
        spec = {"name": value} if isinstance(value, (str, list)) else value
        if not isinstance(spec, Mapping) or "name" not in spec:
            raise ValueError(f"{where}: expected an event name or {{name: ..., data: {{...}}, object: ...}}, got {short_repr(value)}")
        for k in spec:
            if k not in ("name", "data", "object"):
                raise unknown_key(str(k), ("name", "data", "object"), where, "key")
        names = [spec["name"]] if isinstance(spec["name"], str) else spec["name"]
        for n in names:
            _check_name(n, KNOWN_EVENTS, f"{where}.name", "event")
        data = spec.get("data") or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}.data: expected a mapping of event data to match, got {short_repr(data)}")
        selector = parse_selector(spec["object"], f"{where}.object")[0] if "object" in spec else None
        text = f"{' or '.join(names)}" + (f" {dict(data)}" if data else "") + (f" by {selector.text}" if selector else "")
        return EventIs(text=text, names=frozenset(names), data=dict(data), selector=selector)
    if key == "situation":
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"{where}: expected a situation name or a list of them, got {short_repr(value)}")
        return SituationIs(text=f"situation {' or '.join(names)}", names=tuple(names))
    raise unknown_key(str(key), _KEYS, path, "condition")


def _combine(kind: type, value: Any, path: str, word: str) -> Condition:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{path}: expected a non-empty list of conditions, got {short_repr(value)}")
    parts = [parse_condition(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return kind(text=f"{word} ({'; '.join(p.text for p in parts)})", parts=parts)


def _check_name(name: Any, known: Sequence[str], path: str, what: str) -> None:
    """Known names pass; a near miss of a known name is a typo; other names are allowed (a
    third-party interpreter may add its own predicates and events)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{path}: expected a {what} name, got {short_repr(name)}")
    if name not in known:
        hint = close_matches(name, known)
        if hint:
            raise ValueError(f"{path}: unknown {what} '{name}'{hint}")
