"""Polygon zones (entered, exited, dwell time, occupancy, entries counted) and counting lines
(crossings counted by direction and class) for tracked objects, declared in a pipeline config.

The counting semantics (docs/counting.md has the full story, with the clips they were chosen on):

* **Anchor.** Each region follows one point of each box (``anchor``): ``bottom`` — the feet or the
  wheels, the point on the ground — ``center``, ``top``, ``left``, ``right`` or a corner such as
  ``bottom-left``. Zones default to ``bottom`` (where an object stands), lines to ``center``
  (a box cut by the frame's edge moves its bottom, not its middle, the least).
* **Once per crossing, with hysteresis.** A track is on one side of a line only once its anchor is
  farther from the line than the dead band — ``margin`` pixels, or ``margin_size`` × the box's
  extent across the line when that is larger — and has stayed there ``confirm_frames`` frames. A
  crossing is a change between two such sides, counted once, in its direction, when the anchor
  is within the segment's ends. Jitter inside the dead band, or outside it for fewer frames, never
  counts; a track first seen already past the line is not counted (it did not cross in view).
* **Once per entry.** A zone is entered when the anchor has been inside it ``confirm_frames``
  frames in a row (an exit likewise); a track first seen inside is there, without an entry.
* **Per class and per source.** Counts are kept per label (``counts_by_label``) besides the
  totals; the ``relations`` interpreter keeps one :class:`ZoneTracker` per ``Frame.source``, so
  streams never share tracks or counts.
* **Re-identified tracks are not counted again.** A tracker that re-finds an object keeps its id,
  and its state here goes on. When an object comes back under a *new* id instead (an occlusion
  the tracker could not bridge), the new id takes over the regions state of a track of the same
  label that was lost at most ``handover_s`` seconds ago within ``handover_distance`` of its box
  sizes (:class:`CountingParams`): a crossing it completes is counted once, one it had completed
  is not counted again, and its dwell time goes on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from drid.schemas import Event

__all__ = ["ANCHORS", "CountingParams", "LineSpec", "ZoneSpec", "ZoneTracker", "anchor_points", "points_in_polygon"]

Anchor = Literal["center", "bottom", "top", "left", "right", "top-left", "top-right", "bottom-left", "bottom-right"]
ANCHORS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5), "bottom": (0.5, 1.0), "top": (0.5, 0.0), "left": (0.0, 0.5), "right": (1.0, 0.5),
    "top-left": (0.0, 0.0), "top-right": (1.0, 0.0), "bottom-left": (0.0, 1.0), "bottom-right": (1.0, 1.0),
}  # fx, fy of the box width and height
Pt = tuple[float, float]


def anchor_points(boxes: np.ndarray, anchor: str) -> np.ndarray:
    """The ``anchor`` point of each xyxy box, as an ``N×2`` array."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    fx, fy = ANCHORS[anchor]
    return np.c_[b[:, 0] + fx * (b[:, 2] - b[:, 0]), b[:, 1] + fy * (b[:, 3] - b[:, 1])]


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule for ``N×2`` points against an ``M×2`` polygon, vectorised over both."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    x, y = p[:, 0:1], p[:, 1:2]
    ax, ay = poly[:, 0][None, :], poly[:, 1][None, :]
    bx, by = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
    straddles = (ay > y) != (by > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_x = ax + (y - ay) * (bx - ax) / (by - ay)
    return np.count_nonzero(straddles & (x < cross_x), axis=1) % 2 == 1


class _Region(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="how events, facts and rules refer to it")
    labels: tuple[str, ...] | None = Field(default=None, description="only objects with these labels (default: all)")
    confirm_frames: int = Field(default=2, ge=1, description="frames the anchor must stay on its new side (inside/outside) before the change counts")

    @field_validator("labels", mode="before")
    @classmethod
    def _one_label(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class ZoneSpec(_Region):
    """A polygon zone: ``{name: crossing, polygon: [[x, y], ...], anchor: bottom}``."""

    polygon: tuple[Pt, ...] = Field(description="≥ 3 image points [x, y] in pixels, in order around the zone")
    anchor: Anchor = Field(default="bottom", description="which point of a box must lie in the zone")

    @field_validator("polygon")
    @classmethod
    def _three(cls, value: tuple[Pt, ...]) -> tuple[Pt, ...]:
        if len(value) < 3:
            raise ValueError(f"a zone polygon needs at least 3 points, got {len(value)}")
        return value


class LineSpec(_Region):
    """A counting line from ``start`` to ``end``. Crossing it from its left to its right (as seen
    walking from start to end on screen) is ``directions[0]``, the other way ``directions[1]``;
    by default they are named after the screen direction of the crossing (``rightward`` /
    ``leftward`` for an upright line, ``downward`` / ``upward`` for a level one)."""

    start: Pt = Field(description="first end point [x, y] in pixels")
    end: Pt = Field(description="second end point [x, y] in pixels")
    anchor: Anchor = Field(default="center", description="which point of a box crosses the line")
    margin: float = Field(default=4.0, ge=0, description="dead band in pixels on either side where the side does not change")
    margin_size: float = Field(
        default=0.1, ge=0, le=2.0, description="dead band as a fraction of the box's extent across the line, when larger than margin (scale-free hysteresis)"
    )
    directions: tuple[str, str] | None = Field(default=None, description="names of the two crossing directions [left→right of start→end, right→left]")

    @model_validator(mode="after")
    def _length(self) -> LineSpec:
        if math.dist(self.start, self.end) <= 0:
            raise ValueError(f"line '{self.name}': start and end are the same point")
        return self

    def direction_names(self) -> tuple[str, str]:
        if self.directions is not None:
            return self.directions
        dx, dy = self.end[0] - self.start[0], self.end[1] - self.start[1]
        # The normal pointing to the right of start→end on screen (y grows downwards) is (-dy, dx).
        nx, ny = -dy, dx
        if abs(nx) >= abs(ny):
            return ("rightward", "leftward") if nx > 0 else ("leftward", "rightward")
        return ("downward", "upward") if ny > 0 else ("upward", "downward")


@dataclass
class _Debounced:
    """A value that changes only after the new value has been seen ``n`` times in a row."""

    value: int | None = None
    pending: int | None = None
    count: int = 0

    def update(self, seen: int | None, n: int) -> tuple[int | None, int | None] | None:
        """Feed one observation (None: no information); returns (old, new) when it changes."""
        if seen is None or seen == self.value:
            self.pending, self.count = None, 0
            return None
        if self.value is None:  # the first certain observation sets the state without a change
            self.value = seen
            return None
        if seen == self.pending:
            self.count += 1
        else:
            self.pending, self.count = seen, 1
        if self.count >= n:
            old, self.value = self.value, seen
            self.pending, self.count = None, 0
            return old, seen
        return None


class CountingParams(BaseModel):
    """How a track that comes back under a new id takes over the counting state of the one lost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handover_s: float = Field(
        default=1.0, ge=0, description="a new id may continue a track lost at most this long ago (0: never; bounded by temporal.forget_after)"
    )
    handover_distance: float = Field(
        default=1.0, ge=0, description="… whose last box centre is within this many of its box sizes (√area) of the new box's centre"
    )


@dataclass
class _TrackRegions:
    label: str
    last_seen: float
    centre: tuple[float, float]
    size: float
    velocity: tuple[float, float] = (0.0, 0.0)  # of the box centre, px/s, from the last two sightings
    zones: dict[str, _Debounced] = field(default_factory=dict)
    entered: dict[str, float] = field(default_factory=dict)  # zone → time the object entered
    lines: dict[str, _Debounced] = field(default_factory=dict)
    deferred: list[tuple[str, str, str | float | None]] = field(default_factory=list)  # changes of a track not yet confirmed


def _tally(names: Sequence[str]) -> dict[str, int]:
    return dict.fromkeys(names, 0)


class ZoneTracker:
    """Follows the tracked objects of one source through the configured zones and lines; emits
    ``entered_zone``, ``exited_zone`` (with ``dwell_s``), ``crossed_line`` (with ``direction``)
    and ``continued`` (a new id took over a lost track's state) events, and keeps the counts.

    ``counts[line][direction]`` and ``zone_counts[zone]["entered" | "exited"]`` are the totals;
    ``counts_by_label`` and ``zone_counts_by_label`` split them by label."""

    def __init__(self, zones: Sequence[ZoneSpec] = (), lines: Sequence[LineSpec] = (), counting: CountingParams | None = None) -> None:
        names = [z.name for z in zones]
        if len(set(names)) != len(names):
            raise ValueError(f"zone names must be unique, got {names}")
        lnames = [ln.name for ln in lines]
        if len(set(lnames)) != len(lnames):
            raise ValueError(f"line names must be unique, got {lnames}")
        self.zones = list(zones)
        self.lines = list(lines)
        self.counting = counting if counting is not None else CountingParams()
        self._polygons = [np.asarray(z.polygon, dtype=np.float64) for z in self.zones]
        self._tracks: dict[int, _TrackRegions] = {}
        self.counts: dict[str, dict[str, int]] = {ln.name: _tally(ln.direction_names()) for ln in self.lines}
        self.counts_by_label: dict[str, dict[str, dict[str, int]]] = {ln.name: {d: {} for d in ln.direction_names()} for ln in self.lines}
        self.zone_counts: dict[str, dict[str, int]] = {z.name: _tally(("entered", "exited")) for z in self.zones}
        self.zone_counts_by_label: dict[str, dict[str, dict[str, int]]] = {z.name: {"entered": {}, "exited": {}} for z in self.zones}
        self.handovers: list[tuple[int, int]] = []  # (lost id, new id)

    # -- identities ----------------------------------------------------------------------------
    def _state(self, oid: int, label: str, t: float, box: np.ndarray, seen: set[int], events: list[Event]) -> _TrackRegions:
        centre = (float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2)
        size = max(float(np.sqrt(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0))), 1.0)
        state = self._tracks.get(oid)
        if state is None:
            donor = self._donor(label, t, centre, seen)
            if donor is not None:
                state = self._tracks.pop(donor)
                self.handovers.append((donor, oid))
                events.append(Event(name="continued", objects=(oid, donor), data={"label": label, "from": donor}))
            else:
                state = _TrackRegions(label, t, centre, size)
            self._tracks[oid] = state
        dt = t - state.last_seen
        if dt > 0:
            state.velocity = ((centre[0] - state.centre[0]) / dt, (centre[1] - state.centre[1]) / dt)
        state.label, state.last_seen, state.centre, state.size = label, t, centre, size
        return state

    def _donor(self, label: str, t: float, centre: tuple[float, float], seen: set[int]) -> int | None:
        """The lost track a new id at ``centre`` continues: same label, not in this frame, lost
        within ``handover_s``, nearest to where it would be now at its last velocity, within
        ``handover_distance`` of its size."""
        c = self.counting
        if c.handover_s <= 0 or not (self.zones or self.lines):
            return None
        best, best_d = None, float("inf")
        for oid, st in self._tracks.items():
            if oid in seen or st.label != label or not (0.0 < t - st.last_seen <= c.handover_s + 1e-9):
                continue
            gone = t - st.last_seen
            d = float(np.hypot(centre[0] - st.centre[0] - st.velocity[0] * gone, centre[1] - st.centre[1] - st.velocity[1] * gone)) / st.size
            if d <= c.handover_distance and d < best_d:
                best, best_d = oid, d
        return best

    # -- one frame -------------------------------------------------------------------------------
    def update(self, t: float, ids: Sequence[int], labels: Sequence[str], boxes: np.ndarray, confirmed: Sequence[bool] | None = None) -> list[Event]:
        """One frame of tracks: their ids, labels and ``N×4`` boxes at time ``t``.

        ``confirmed`` (default: all) says which tracks count yet: the crossings and entries of a
        track not yet confirmed are kept and counted when it is (in their order, on that frame),
        so a track confirmed only after it crossed is still counted, and one never confirmed (a
        transient blob) never is."""
        events: list[Event] = []
        if not len(ids):
            return events
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        seen = set(ids)
        states = [self._state(oid, labels[k], t, boxes[k], seen, events) for k, oid in enumerate(ids)]
        changes: list[list[tuple[str, str, str | float | None]]] = [[] for _ in ids]
        for zone, polygon in zip(self.zones, self._polygons):
            inside = points_in_polygon(anchor_points(boxes, zone.anchor), polygon)
            for k in range(len(ids)):
                if zone.labels is not None and labels[k] not in zone.labels:
                    continue
                state = states[k]
                deb = state.zones.get(zone.name)
                is_in = int(bool(inside[k]))
                if deb is None:
                    state.zones[zone.name] = _Debounced(value=is_in)
                    if is_in:  # first seen already inside: it is there, with no entry event
                        state.entered[zone.name] = t
                    continue
                change = deb.update(is_in, zone.confirm_frames)
                if change is None:
                    continue
                if change[1]:
                    state.entered[zone.name] = t
                    changes[k].append(("entered", zone.name, None))
                else:
                    since = state.entered.pop(zone.name, t)
                    changes[k].append(("exited", zone.name, round(t - since, 3)))
        for line in self.lines:
            a = np.asarray(line.start, dtype=np.float64)
            d = np.asarray(line.end, dtype=np.float64) - a
            length = float(np.hypot(*d))
            pts = anchor_points(boxes, line.anchor) - a
            signed = (d[0] * pts[:, 1] - d[1] * pts[:, 0]) / length  # > 0: right of start→end on screen
            along = (pts @ d) / (length * length)
            # The box's extent across the line: its width for an upright line, its height for a level one.
            across = (np.abs(d[1]) * (boxes[:, 2] - boxes[:, 0]) + np.abs(d[0]) * (boxes[:, 3] - boxes[:, 1])) / length
            band = np.maximum(line.margin, line.margin_size * across)
            names = line.direction_names()
            for k in range(len(ids)):
                if line.labels is not None and labels[k] not in line.labels:
                    continue
                deb = states[k].lines.setdefault(line.name, _Debounced())
                s = float(signed[k])
                side = 1 if s > band[k] else (-1 if s < -band[k] else None)
                change = deb.update(side, line.confirm_frames)
                # A change of side beyond the segment's ends passes by the line, not across it.
                if change is None or change[0] is None or not (0.0 <= float(along[k]) <= 1.0):
                    continue
                changes[k].append(("crossed", line.name, names[0] if change[1] == 1 else names[1]))
        for k, oid in enumerate(ids):
            state = states[k]
            if confirmed is not None and not confirmed[k]:
                state.deferred += changes[k]  # counted if and when the track is confirmed
                continue
            for kind, region, value in (*state.deferred, *changes[k]):
                events.append(self._counted(oid, labels[k], kind, region, value))
            state.deferred.clear()
        return events

    def _counted(self, oid: int, label: str, kind: str, region: str, value: str | float | None) -> Event:
        if kind == "crossed":
            direction = str(value)
            self._count(self.counts[region], self.counts_by_label[region], direction, label)
            return Event(name="crossed_line", objects=(oid,), data={
                "line": region, "direction": direction, "label": label, "count": self.counts[region][direction],
                "label_count": self.counts_by_label[region][direction][label],
            })
        self._count(self.zone_counts[region], self.zone_counts_by_label[region], kind, label)
        data: dict[str, object] = {"zone": region, "label": label, "count": self.zone_counts[region][kind]}
        if kind == "exited":
            data["dwell_s"] = value
        return Event(name=f"{kind}_zone", objects=(oid,), data=data)

    @staticmethod
    def _count(totals: dict[str, int], by_label: dict[str, dict[str, int]], key: str, label: str) -> None:
        totals[key] += 1
        by_label[key][label] = by_label[key].get(label, 0) + 1

    def forget(self, oid: int, t: float, label: str) -> list[Event]:
        """The track left the scene: it exits every zone it was in (not counted as an exit
        through the zone's border: it vanished, it did not walk out)."""
        state = self._tracks.pop(oid, None)
        if state is None:
            return []
        return [
            Event(name="exited_zone", objects=(oid,), data={"zone": zone, "label": label, "dwell_s": round(t - since, 3), "lost": True})
            for zone, since in state.entered.items()
        ]

    def keep(self, ids: set[int]) -> None:
        """Forget, silently, every track not in ``ids`` (those the track memory dropped unconfirmed)."""
        for oid in [oid for oid in self._tracks if oid not in ids]:
            del self._tracks[oid]

    def zones_of(self, oid: int, t: float) -> dict[str, float]:
        """The zones object ``oid`` is in now, with the seconds it has spent there."""
        state = self._tracks.get(oid)
        return {} if state is None else {z: round(t - since, 3) for z, since in state.entered.items()}

    def occupancy(self) -> dict[str, list[int]]:
        """Every zone with the ids of the objects in it."""
        out: dict[str, list[int]] = {z.name: [] for z in self.zones}
        for oid, state in self._tracks.items():
            for zone in state.entered:
                out[zone].append(oid)
        return out
