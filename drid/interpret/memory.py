"""Temporal context: a bounded memory of each track's recent positions, from which come
confirmation (a track counts only once it has been seen for ``min_seconds``), appearance and departure,
motion (moving / stationary with hysteresis and ``state_frames`` debouncing, speed and heading in px/s and, calibrated, in m/s and
km/h), time since first seen, and whether one object is approaching another or moving away.

Speeds are least-squares slopes of the track's anchor point over the last ``window`` seconds, so
a box that jitters by a few pixels does not look like it moves. A track missing from a frame is
not gone: it ``left`` only after ``forget_after`` seconds without a sighting (flicker-proof).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from drid.interpret.calibration import Calibration
from drid.interpret.zones import Anchor, anchor_points
from drid.schemas import Event, SceneObject

__all__ = ["Motion", "TemporalParams", "Track", "TrackMemory", "heading_word"]


class TemporalParams(BaseModel):
    """How tracks are remembered and judged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # 0.8 s: on the one-by-one clip 19 person identities at 0.5 s, 16 at 0.8 s, 12 at 1.2 s, car
    # counts 2/2 throughout (docs/counting.md); a longer wait costs no count (zones and lines
    # count what a track did before its confirmation), only objects seen for less.
    min_seconds: float = Field(default=0.8, ge=0, description="seconds a track must have been seen (first to latest sighting) before it counts (appears, moves, enters zones)")
    min_frames: int | None = Field(default=None, ge=1, description="sightings before a track counts, instead of min_seconds (frames: older configs)")
    forget_after: float = Field(default=1.0, gt=0, description="seconds without a sighting before a track has left")
    window: float = Field(default=1.0, gt=0, description="seconds of history used for speed and heading")
    max_history: int = Field(default=64, ge=2, description="positions kept per track at most (bounds memory)")
    moving_speed: float = Field(default=0.3, gt=0, description="moving above this speed, in object sizes (√area) per second")
    stopping_speed: float = Field(default=0.15, ge=0, description="stationary again below this speed (object sizes/s); hysteresis")
    state_frames: int = Field(default=3, ge=1, description="frames a new moving/stationary state must last before it counts")
    approach_fraction: float = Field(default=0.7, gt=0, le=1, description="approaching when this share of the speed points at the other object")
    approach_range: float | None = Field(default=3.0, gt=0, description="approaching/moving_away only towards objects within this many object sizes (null: any)")
    anchor: Anchor = Field(default="bottom", description="the point of a box whose motion is measured (bottom: where it meets the ground)")
    # 60 s: a visitor at the one-by-one clip's table stands unseen by motion for 9-19 s; a minute
    # bounds how long a place is presumed occupied (docs/counting.md, "One by one").
    identity_s: float = Field(
        default=60.0, ge=0, description="a track born where a confirmed one vanished at most this many seconds earlier is the same object (takes its identity; 0: never)"
    )
    # 0.5: a fragment of a person (head, torso, legs) lies within the body's box; half a body
    # allows for a change of stance. One-by-one clip: identities at 0.25 / 0.5 / 1.0 in docs/counting.md.
    identity_distance: float = Field(
        default=0.5, ge=0, description="how near a new track's first box centre must be to where an object vanished (its extent, the largest box of its last window), in that extent's sizes"
    )


@dataclass
class Motion:
    """A track's motion now: velocity in px/s (image axes), speed, heading in degrees
    (0 = rightwards, 90 = up the image), and the same speed in m/s when calibrated."""

    vx: float = 0.0
    vy: float = 0.0
    speed: float = 0.0
    heading: float = 0.0
    speed_mps: float | None = None
    moving: bool = False


@dataclass
class Track:
    id: int
    label: str
    first_seen: float
    last_seen: float
    box: tuple[float, float, float, float]
    sightings: int = 1
    confirmed: bool = False
    history: deque[tuple[float, float, float]] = field(default_factory=deque)  # (t, x, y) of the anchor
    ground: deque[tuple[float, float]] = field(default_factory=deque)  # metres, parallel to history
    motion: Motion = field(default_factory=Motion)
    pending: int = 0  # frames in a row whose speed says the moving state should flip
    identity: int = 0  # the id of the object's first track (a track that continues a vanished one takes its identity)
    first_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    recent: deque[tuple[float, tuple[float, float, float, float]]] = field(default_factory=deque)  # (t, box) over the last window

    def extent(self) -> tuple[float, float, float, float]:
        """Where the object stood: the largest of its boxes over the last window (a still
        object fades from a background model part by part, so its very last box is a remnant)."""
        boxes = [b for _, b in self.recent] or [self.box]
        return max(boxes, key=lambda b: max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0))

    @property
    def size(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(math.sqrt(max(x2 - x1, 0.0) * max(y2 - y1, 0.0)), 1.0)

    def age(self, t: float) -> float:
        return t - self.first_seen


def heading_word(heading: float) -> str:
    """A heading in degrees (0 right, 90 up the image) as a word: right, up-right, up, …"""
    words = ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right")
    return words[int(((heading % 360) + 22.5) // 45) % 8]


def _slope(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Least-squares slope of each column of ``v`` against ``t``."""
    tc = t - t.mean()
    denom = float(tc @ tc)
    if denom <= 0:
        return np.zeros(v.shape[1])
    return (tc @ (v - v.mean(axis=0))) / denom


class TrackMemory:
    """Per-track state over a bounded window. Call :meth:`update` once per frame, in order."""

    def __init__(self, params: TemporalParams | None = None, calibration: Calibration | None = None) -> None:
        self.params = params if params is not None else TemporalParams()
        self.calibration = calibration
        self.tracks: dict[int, Track] = {}
        # identity → (when, label, extent): where each object was last seen, one place per object
        self.vanished: dict[int, tuple[float, str, tuple[float, float, float, float]]] = {}
        self.frame_size: tuple[int, int] | None = None

    def _left(self, track: Track) -> bool:
        """Whether ``track`` went out of the picture: its last box is cut by an edge of the frame
        (within a pixel) and its centre, moving on at its speed of the last window for the
        ``forget_after`` seconds it has not been seen, would now be beyond that edge. A box that
        stops short of the edges, or whose centre would still be in view, faded where it was.
        The centre, not the anchor: a still object fading from the feet up moves its bottom fast
        and its centre half as fast (the one-by-one clip: docs/counting.md, "One by one")."""
        if self.frame_size is None or len(track.recent) < 2:
            return False
        w, h = self.frame_size
        x1, y1, x2, y2 = track.box
        rec = np.array([(t, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for t, b in track.recent], dtype=np.float64)
        vx, vy = (float(v) * self.params.forget_after for v in _slope(rec[:, 0], rec[:, 1:3]))
        cx, cy = (x1 + x2) / 2 + vx, (y1 + y2) / 2 + vy
        return (x1 <= 1 and cx <= 0) or (x2 >= w - 1 and cx >= w) or (y1 <= 1 and cy <= 0) or (y2 >= h - 1 and cy >= h)

    def _identity(self, oid: int, label: str, t: float, box: tuple[float, float, float, float]) -> int:
        """A new track's identity: that of the object of its label whose extent, where it
        vanished at most ``identity_s`` before ``t``, lies nearest to the centre of ``box``
        (within ``identity_distance`` of the extent's size); else its own id. A person standing
        still melts into a background model and reappears, as new tracks, where they stood.

        Whether it vanished moving or still, at a frame's edge or not, does not decide: a still
        object fading from the feet up looks like one walking out through the top edge. An object
        that did leave is last seen at the edge, where its own extent lies, so only something born
        there soon after takes its identity. The place is not given up when claimed: the parts
        of one person (head, torso) may come back as several tracks."""
        p = self.params
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        best, best_d = oid, float("inf")
        for ident, (when, vlabel, ext) in self.vanished.items():
            if vlabel != label or not 0.0 <= t - when <= p.identity_s:
                continue
            size = max(math.sqrt(max(ext[2] - ext[0], 1.0) * max(ext[3] - ext[1], 1.0)), 1.0)
            d = math.hypot(max(ext[0] - cx, 0.0, cx - ext[2]), max(ext[1] - cy, 0.0, cy - ext[3])) / size
            if d <= p.identity_distance and d < best_d:
                best, best_d = ident, d
        return best

    def update(self, t: float, objects: Sequence[SceneObject]) -> list[Event]:
        """Feed the tracked objects of the frame at time ``t``; returns ``appeared``, ``left``,
        ``started_moving`` and ``stopped`` events of confirmed tracks."""
        p = self.params
        events: list[Event] = []
        tracked = [o for o in objects if o.track_id is not None]
        if tracked:
            boxes = np.array([o.box.as_xyxy() for o in tracked], dtype=np.float64)
            anchors = anchor_points(boxes, p.anchor)
            ground = self.calibration.to_ground(anchors) if self.calibration is not None else None
        for k, obj in enumerate(tracked):
            track = self.tracks.get(obj.id)
            box = tuple(float(v) for v in boxes[k])
            if track is None:
                track = self.tracks[obj.id] = Track(obj.id, obj.label, t, t, box, history=deque(maxlen=p.max_history), ground=deque(maxlen=p.max_history))  # type: ignore[arg-type]
                track.identity, track.first_box = obj.id, box  # type: ignore[assignment]
            else:
                track.sightings += 1
                track.last_seen, track.box, track.label = t, box, obj.label  # type: ignore[assignment]
            track.history.append((t, float(anchors[k, 0]), float(anchors[k, 1])))
            track.recent.append((t, track.box))
            while track.recent[0][0] < t - p.window - 1e-9:
                track.recent.popleft()
            if ground is not None:
                track.ground.append((float(ground[k, 0]), float(ground[k, 1])))
            while track.history and track.history[0][0] < t - p.window - 1e-9:
                track.history.popleft()
                if track.ground:
                    track.ground.popleft()
            was_moving = track.motion.moving
            track.motion = self._motion(track, obj)
            if not track.confirmed and self._confirms(track, t):
                track.confirmed = True
                # Claimed on confirmation, where it was born: fragments that never confirm do not take it.
                if p.identity_s > 0:
                    track.identity = self._identity(track.id, track.label, track.first_seen, track.first_box)
                events.append(Event(name="appeared", objects=(track.id,), data={"label": track.label}))
            elif track.confirmed and track.motion.moving != was_moving:
                events.append(Event(name="started_moving" if track.motion.moving else "stopped", objects=(track.id,), data={"label": track.label}))
        self.vanished = {k: v for k, v in self.vanished.items() if t - v[0] <= p.identity_s + p.forget_after}
        for oid in [oid for oid, tr in self.tracks.items() if t - tr.last_seen > p.forget_after]:
            track = self.tracks.pop(oid)
            # Where the object was last seen (its latest track's, replacing an earlier place),
            # unless it went out of the picture; one that left gives its place up.
            if track.confirmed and p.identity_s > 0 and self._left(track):
                self.vanished.pop(track.identity, None)
            elif track.confirmed and p.identity_s > 0:
                old = self.vanished.get(track.identity)
                if old is None or old[0] <= track.last_seen:
                    self.vanished[track.identity] = (track.last_seen, track.label, track.extent())
            if track.confirmed:
                events.append(Event(name="left", objects=(oid,), data={"label": track.label, "seen_s": round(track.last_seen - track.first_seen, 3)}))
        return events

    def _confirms(self, track: Track, t: float) -> bool:
        p = self.params
        if p.min_frames is not None:
            return track.sightings >= p.min_frames
        return t - track.first_seen >= p.min_seconds - 1e-9 and (track.sightings >= 2 or p.min_seconds == 0)

    def _motion(self, track: Track, obj: SceneObject) -> Motion:
        p = self.params
        hist = np.asarray(track.history, dtype=np.float64)
        if len(hist) >= 2 and hist[-1, 0] > hist[0, 0]:
            vx, vy = (float(v) for v in _slope(hist[:, 0], hist[:, 1:3]))
        elif obj.velocity is not None:  # too little history: trust the tracker's estimate
            vx, vy = obj.velocity
        else:
            vx = vy = 0.0
        speed = math.hypot(vx, vy)
        speed_mps = None
        if self.calibration is not None and len(track.ground) >= 2 and hist[-1, 0] > hist[0, 0]:
            g = np.asarray(track.ground, dtype=np.float64)
            gvx, gvy = _slope(hist[-len(g):, 0], g)
            speed_mps = float(math.hypot(gvx, gvy))
        relative = speed / track.size
        moving = track.motion.moving
        flip = relative <= p.stopping_speed if moving else relative > p.moving_speed
        # The first estimates decide at once; later a flip must persist (one odd box is not a stop).
        if flip and (len(track.history) <= 2 or track.pending + 1 >= p.state_frames):
            moving, track.pending = not moving, 0
        else:
            track.pending = track.pending + 1 if flip else 0
        heading = math.degrees(math.atan2(-vy, vx)) % 360.0
        return Motion(vx, vy, speed, heading, speed_mps, moving)

    def confirmed(self, oid: int) -> Track | None:
        track = self.tracks.get(oid)
        return track if track is not None and track.confirmed else None

    def approach(self, subjects: Sequence[int], boxes: np.ndarray, ids: Sequence[int]) -> list[tuple[int, str, int, float]]:
        """``approaching`` / ``moving_away`` relations from each moving confirmed track in
        ``subjects`` to every object of ``ids`` (boxes ``N×4``), by object index: the share of the
        subject's velocity that points at the other object's centre decides, and is the confidence."""
        p = self.params
        movers = [(k, self.tracks[ids[k]]) for k in subjects if self.tracks[ids[k]].motion.moving]
        if not movers or len(ids) < 2:
            return []
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        centres = np.c_[(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2]
        sizes = np.maximum(np.sqrt(np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)), 1.0)
        rows = np.array([k for k, _ in movers])
        vel = np.array([[tr.motion.vx, tr.motion.vy] for _, tr in movers])
        speed = np.array([tr.motion.speed for _, tr in movers])
        offset = centres[None, :, :] - centres[rows][:, None, :]
        dist = np.hypot(offset[..., 0], offset[..., 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(dist > 0, (offset @ vel[:, :, None])[..., 0] / (dist * speed[:, None]), 0.0)
        ok = np.ones_like(dist, dtype=bool)
        ok[np.arange(len(rows)), rows] = False
        if p.approach_range is not None:
            scale = (sizes[rows][:, None] + sizes[None, :]) / 2
            ok &= dist <= p.approach_range * scale
        out = []
        for r, j in zip(*np.nonzero(ok & (np.abs(share) >= p.approach_fraction))):
            s = float(share[r, j])
            out.append((int(rows[r]), "approaching" if s > 0 else "moving_away", int(j), min(abs(s), 1.0)))
        return out
