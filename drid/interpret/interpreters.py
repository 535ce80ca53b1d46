"""The ``relations`` interpreter: the scene in context.

``relations`` does everything that needs the per-track memory — spatial relations, temporal
context (motion, speed, approach, appearance and departure), zones and counting lines, facts and
the feature vector — because all of it reads the same tracks; the parts are its parameters
(``spatial``, ``temporal``, ``calibration``, ``zones``, ``lines``, ``landmarks``, ``narrate``).
Its building blocks live in ``drid.interpret`` for use without a pipeline. Its ``situations``
parameter runs :class:`~drid.interpret.scene_rules.SceneRules` (the ``scene-rules`` wrapper)
without a wrapper when ``relations`` is the only interpreter.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from drid.errors import close_matches
from drid.interpret.calibration import Calibration
from drid.interpret.conditions import KNOWN_PREDICATES
from drid.interpret.facts import Narrator, count_phrase, motion_verb, name_of, object_name
from drid.interpret.features import feature_names, scene_features
from drid.interpret.memory import TemporalParams, TrackMemory, heading_word
from drid.interpret.relations import SpatialParams, spatial_relations, spatial_relations_naive
from drid.interpret.scene_rules import SceneRules
from drid.interpret.zones import CountingParams, LineSpec, ZoneSpec, ZoneTracker
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import BoundingBox, Event, Frame, Scene, SceneObject

__all__ = ["Landmark", "RelationsInterpreter"]


_SCENE = TypeAdapter(Scene)
#: Below this many objects the Python loop beats numpy's per-call overhead (same results, tested).
_NUMPY_FROM = 8


class Landmark(BaseModel):
    """A fixed thing of the scene that no detector finds (a table, a door, a tent): it takes part
    in relations and approach like a detected object, with a negative id (-1, -2, … in order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1, description="what it is: 'table'")
    box: tuple[float, float, float, float] = Field(description="[x1, y1, x2, y2] in pixels")

    @field_validator("box")
    @classmethod
    def _ordered(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        BoundingBox(x1=value[0], y1=value[1], x2=value[2], y2=value[3])
        return value


def _speed_text(speed_px: float, speed_mps: float | None) -> str:
    if speed_mps is not None:
        return f"{speed_mps:.1f} m/s"
    return f"{speed_px:.0f} px/s"


def _same_motion(told: Any, now: Any) -> bool:
    if not (isinstance(told, tuple) and isinstance(now, tuple)):
        return told == now
    turn = abs((now[1] - told[1] + 180.0) % 360.0 - 180.0)
    return bool(told[0] == now[0] and turn <= 60.0)


@dataclass
class _SourceState:
    memory: TrackMemory
    regions: ZoneTracker
    narrator: Narrator
    rules: SceneRules | None
    tracking: bool = False  # a tracked object has been seen: untracked ones are unconfirmed births
    frames: int = 0


class RelationsInterpreter(Plugin):
    """Spatial relations, motion, zones, counting lines, facts in words and a feature vector."""

    drid_name = "relations"

    class Params(PluginParams):
        spatial: SpatialParams = Field(default_factory=SpatialParams, description="thresholds of left_of, near, next_to, overlaps, inside…")
        temporal: TemporalParams = Field(default_factory=TemporalParams, description="track confirmation, forgetting, speed window, moving thresholds")
        calibration: Calibration | None = Field(default=None, description="pixels_per_metre, known_distance or a ground homography, for m/s and km/h")
        zones: list[ZoneSpec] = Field(default_factory=list, description="polygon zones: [{name, polygon: [[x, y], ...], anchor, labels}]")
        lines: list[LineSpec] = Field(default_factory=list, description="counting lines: [{name, start: [x, y], end: [x, y], anchor, margin, margin_size, directions}]")
        counting: CountingParams = Field(default_factory=CountingParams, description="how a track back under a new id continues a lost one (not counted again)")
        landmarks: list[Landmark] = Field(default_factory=list, description="fixed objects: [{label: table, box: [x1, y1, x2, y2]}]")
        narrate: list[str] = Field(
            default_factory=lambda: ["next_to", "approaching", "moving_away"], description="which relations become facts in words"
        )
        repeat_after: float | None = Field(default=10.0, gt=0, description="seconds before a fact that still holds is said again (null: never)")
        max_facts: int | None = Field(default=8, ge=1, description="new facts told per frame at most, events aside (the rest wait their turn)")
        feature_labels: list[str] = Field(default_factory=lambda: ["person", "car"], description="labels counted in the feature vector")
        situations: dict[str, Any] = Field(
            default_factory=dict, description="named situations → conditions, as scene-rules takes them, judged on this interpreter's scene"
        )
        naive: bool = Field(default=False, description="compute spatial relations by the pure-Python pairwise loop (reference, slow)")
        assume_fps: float = Field(default=25.0, gt=0, description="frame rate assumed for frames without timestamps (all at 0 s)")
        untracked: Literal["auto", "include", "exclude"] = Field(
            default="auto", description="objects without a track id: auto (count them until a tracked object is seen), include, exclude"
        )

        @field_validator("narrate")
        @classmethod
        def _predicates(cls, value: list[str]) -> list[str]:
            for p in value:
                if p not in KNOWN_PREDICATES:
                    raise ValueError(f"unknown predicate '{p}'{close_matches(p, KNOWN_PREDICATES) or ' (known: ' + ', '.join(KNOWN_PREDICATES) + ')'}")
            return value

        @field_validator("situations")
        @classmethod
        def _situations(cls, value: dict[str, Any]) -> dict[str, Any]:
            return SceneRules.Params.check(value, allow_empty=True)

        @model_validator(mode="after")
        def _unique(self) -> RelationsInterpreter.Params:
            for kind, names in (("zone", [z.name for z in self.zones]), ("line", [ln.name for ln in self.lines])):
                dupes = sorted({n for n in names if names.count(n) > 1})
                if dupes:
                    raise ValueError(f"{kind} names must be unique: {', '.join(dupes)} repeated")
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.reset()

    def reset(self) -> None:
        """Forget every track, count and narration of every source (a new run)."""
        p = self.params
        self.sources: dict[str, _SourceState] = {}
        self._current = self._state("")
        self.landmarks = [
            SceneObject(
                id=-(k + 1), label=lm.label, score=1.0, box=BoundingBox(x1=lm.box[0], y1=lm.box[1], x2=lm.box[2], y2=lm.box[3]),
                detected_as=lm.label, detection=0, attributes={"landmark": True},
            )
            for k, lm in enumerate(p.landmarks)
        ]
        self.features = feature_names(p.feature_labels, [z.name for z in p.zones], [(ln.name, ln.direction_names()) for ln in p.lines])

    def _state(self, source: str) -> _SourceState:
        state = self.sources.get(source)
        if state is None:
            p = self.params
            state = self.sources[source] = _SourceState(
                memory=TrackMemory(p.temporal, p.calibration),
                regions=ZoneTracker(p.zones, p.lines, p.counting),
                narrator=Narrator(p.repeat_after, grace=p.temporal.forget_after, max_facts=p.max_facts),
                rules=SceneRules(situations=p.situations) if p.situations else None,
            )
        return state

    # The state of the source being interpreted (one per Frame.source: streams never share tracks or counts).
    @property
    def memory(self) -> TrackMemory:
        return self._current.memory

    @property
    def regions(self) -> ZoneTracker:
        return self._current.regions

    @property
    def narrator(self) -> Narrator:
        return self._current.narrator

    @property
    def rules(self) -> SceneRules | None:
        return self._current.rules

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """Line crossings so far: source → line → direction → count (sources that have frames)."""
        return {src: {line: dict(d) for line, d in st.regions.counts.items()} for src, st in self.sources.items() if st.frames}

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self.reset()

    @hookimpl
    def drid_interpret(self, frame: Frame, objects: list[SceneObject]) -> Scene:
        # A source that leaves every timestamp at 0 still has a frame order: time it by index.
        t = frame.timestamp if frame.timestamp > 0 or frame.index == 0 else frame.index / self.params.assume_fps
        scene = self._state(frame.source)
        if frame.image is not None:
            scene.memory.frame_size = (frame.width, frame.height)
        return self.interpret(t, objects, source=frame.source)

    # -- the work ----------------------------------------------------------------------------
    def interpret(self, t: float, objects: list[SceneObject], source: str = "") -> Scene:
        """The scene at time ``t`` (seconds, increasing per source) for the frame's ``objects``,
        seen by ``source`` (each source has its own tracks, counts and narration)."""
        p = self.params
        self._current = state = self._state(source)
        state.frames += 1
        events = self.memory.update(t, objects)
        for ev in events:
            if ev.name == "left":
                events.extend(self.regions.forget(ev.objects[0], t, str(ev.data.get("label", "object"))))

        # The objects that count: confirmed tracks and landmarks; untracked objects only while no
        # tracker is at work (behind a tracker they are unconfirmed births, and their ids — the
        # detection indices — could collide with track ids).
        state.tracking = state.tracking or p.untracked == "exclude" or (p.untracked == "auto" and any(o.track_id is not None for o in objects))
        active = [o for o in objects if (o.track_id is None and not state.tracking) or (o.track_id is not None and self.memory.confirmed(o.id) is not None)]
        tracked = [o for o in active if o.track_id is not None]
        # Every track takes part in zones and lines from its first sighting, but what it does
        # counts only once it is confirmed (then at once, even when it crossed before).
        followed = [o for o in objects if o.track_id is not None and o.id in self.memory.tracks]
        self.regions.keep(set(self.memory.tracks))
        if followed:
            events += self.regions.update(
                t, [o.id for o in followed], [o.label for o in followed], np.array([o.box.as_xyxy() for o in followed]),
                confirmed=[self.memory.tracks[o.id].confirmed for o in followed],
            )
        everyone = active + self.landmarks
        ids = [o.id for o in everyone]
        boxes = np.array([o.box.as_xyxy() for o in everyone], dtype=np.float64).reshape(-1, 4)
        if p.naive or len(boxes) < _NUMPY_FROM:
            found = spatial_relations_naive(boxes.tolist(), p.spatial)
        else:
            found = spatial_relations(boxes, p.spatial).tuples()
        moving_rows = [k for k, o in enumerate(everyone) if o.track_id is not None]
        found += self.memory.approach(moving_rows, boxes, ids)
        # Relations travel as plain tuples and become messages in one validation of the scene
        # (pydantic-core builds thousands of them several times faster than one by one).
        relations = [(ids[i], pred, ids[j], min(max(c, 0.0), 1.0)) for i, pred, j, c in found]

        enriched = [self._enrich(o, t) for o in objects]
        by_id = {o.id: o for o in enriched}
        for lm in self.landmarks:
            by_id[lm.id] = lm
        facts = self._narrate(t, events, relations, by_id, tracked)
        speeds, moving = [], 0
        for o in tracked:
            tr = self.memory.tracks[o.id]
            speeds.append(tr.motion.speed_mps if tr.motion.speed_mps is not None else tr.motion.speed)
            moving += tr.motion.moving
        occupancy = self.regions.occupancy()
        features = scene_features(
            [o.label for o in active], speeds, moving, len(relations), len(events), p.feature_labels,
            [len(occupancy[z.name]) for z in p.zones],
            [self.regions.counts[ln.name][d] for ln in p.lines for d in ln.direction_names()],
        )
        scene = _SCENE.validate_python({
            "objects": (*enriched, *self.landmarks),
            "relations": [{"subject": a, "predicate": pred, "object": b, "confidence": c} for a, pred, b, c in relations],
            "events": events, "facts": facts, "features": features,
        })
        return scene if self.rules is None else self.rules.evaluate(scene)

    def _enrich(self, obj: SceneObject, t: float) -> SceneObject:
        if obj.track_id is None:
            return obj
        track = self.memory.tracks.get(obj.id)
        if track is None:
            return obj
        m = track.motion
        attrs: dict[str, Any] = dict(obj.attributes)
        attrs["confirmed"] = track.confirmed
        attrs["identity"] = track.identity
        if track.confirmed:
            attrs.update(
                moving=m.moving, speed_px_s=round(m.speed, 2), heading_deg=round(m.heading, 1), age_s=round(track.age(t), 3),
                zones=self.regions.zones_of(obj.id, t),
            )
            if m.speed_mps is not None:
                attrs.update(speed_m_s=round(m.speed_mps, 3), speed_km_h=round(m.speed_mps * 3.6, 2))
        return obj.model_copy(update={"attributes": attrs})

    def _narrate(self, t: float, events: list[Event], relations: list[tuple[int, str, int, float]], objs: dict[int, SceneObject], tracked: list[SceneObject]) -> tuple[str, ...]:
        say = self.narrator

        def name(oid: int) -> str:
            return object_name(oid, objs.get(oid))

        for ev in events:
            who = name(ev.objects[0]) if ev.objects else ""
            d = ev.data
            if ev.name == "appeared":
                label = str(d.get("label", "object"))
                say.event(f"{name_of(label, ev.objects[0])} appeared")
            elif ev.name == "left":
                say.event(f"{name_of(str(d.get('label', 'object')), ev.objects[0])} left after {float(d.get('seen_s', 0.0)):.1f} s")  # type: ignore[arg-type]
            elif ev.name == "entered_zone":
                say.event(f"{who} entered zone '{d['zone']}'")
            elif ev.name == "exited_zone":
                say.event(f"{name_of(str(d.get('label', 'object')), ev.objects[0])} left zone '{d['zone']}' after {float(d.get('dwell_s', 0.0)):.1f} s")  # type: ignore[arg-type]
            elif ev.name == "crossed_line":
                line = str(d["line"])
                counts = self.regions.counts[line]
                so_far = ", ".join(f"{n} {k}" for k, n in counts.items())
                say.event(f"{who} crossed line '{line}' {d['direction']} ({so_far})")
        for o in tracked:
            tr = self.memory.tracks[o.id]
            m = tr.motion
            if m.moving:
                verb = motion_verb(o.label, m.speed_mps)
                word = heading_word(m.heading)
                # A new heading is news only once it differs by more than 60° from the one told.
                say.state(("motion", o.id), (verb, m.heading), f"{name(o.id)} is {verb} {word} at {_speed_text(m.speed, m.speed_mps)}", t, same=_same_motion)
            else:
                say.state(("motion", o.id), "still", f"{name(o.id)} is not moving", t)
        narrate = set(self.params.narrate)

        def telling(subject: int, predicate: str, other: int) -> str:
            s, ob = name(subject), name(other)
            if predicate in ("approaching", "moving_away"):
                subj = objs.get(subject)
                tr = self.memory.tracks.get(subject)
                verb = motion_verb(subj.label if subj else "", tr.motion.speed_mps if tr else None)
                towards = "towards" if predicate == "approaching" else "away from"
                speed = f" at {_speed_text(tr.motion.speed, tr.motion.speed_mps)}" if tr is not None else ""
                return f"{s} is {verb} {towards} {ob}{speed}"
            return f"{s} is {predicate.replace('_', ' ')} {ob}"

        for a, pred, b, _ in relations:
            if pred in narrate:
                say.state((pred, a, b), pred, functools.partial(telling, a, pred, b), t)
        for zone, members in self.regions.occupancy().items():
            topic = ("occupancy", zone)
            if members:
                tally: dict[str, int] = {}
                for member in members:
                    track = self.memory.tracks.get(member)
                    label = objs[member].label if member in objs else (track.label if track is not None else "object")
                    tally[label] = tally.get(label, 0) + 1
                what = " and ".join(count_phrase(n, label) for label, n in sorted(tally.items()))
                say.state(topic, len(members), f"{what} in zone '{zone}'", t)
            elif say.told(topic) not in (None, 0):
                say.event(f"zone '{zone}' is empty")  # told once; then the zone has no news
                say.forget(topic)
        return say.flush(t)
