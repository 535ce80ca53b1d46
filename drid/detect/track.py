"""The ``track`` plugin: stable ids and velocities for the detect stage's boxes.

SORT-style multi-object tracking (Bewley et al., 2016): each track is a constant-velocity Kalman
filter over the box centre and size; every frame the predicted boxes are matched to the new
detections by IoU with the Hungarian method (``scipy.optimize.linear_sum_assignment``). A track
is born tentative, confirmed after ``min_hits`` matches, and dies after ``max_age`` frames
without one. Time comes from the frames' timestamps, so velocities are in pixels per second.

It is a detect-stage *wrapper* (``@hookimpl(wrapper=True)``): list it under ``detect`` after the
detectors; the engine runs it around them, and it sees and returns the whole stage's output.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field
from scipy.optimize import linear_sum_assignment

from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import BoundingBox, Detection, Frame, iou_matrix

__all__ = ["KalmanBoxFilter", "Track", "Tracker"]

_F_DIMS = 8  # cx, cy, w, h and their rates of change


class KalmanBoxFilter:
    """A constant-velocity Kalman filter of a box: state ``cx, cy, w, h, vx, vy, vw, vh`` with
    velocities in pixels per second; measurements are ``cx, cy, w, h``.

    Process noise is white acceleration of ``accel`` box heights per second², measurement noise
    ``measurement`` box heights: both scale with the box, so near and far objects behave alike."""

    _H = np.hstack([np.eye(4), np.zeros((4, 4))])

    def __init__(self, box: np.ndarray, accel: float = 2.0, measurement: float = 0.05, initial_speed: float = 2.0) -> None:
        self.accel = accel
        self.measurement = measurement
        self.x = np.zeros(_F_DIMS)
        self.x[:4] = box
        h = max(box[3], 1.0)
        # Position known to the measurement noise; velocity unknown, up to a couple of heights per second.
        self.P = np.diag(np.r_[np.full(4, (measurement * h) ** 2), np.full(4, (initial_speed * h) ** 2)])

    def predict(self, dt: float) -> np.ndarray:
        """Advance the state by ``dt`` seconds; the predicted ``cx, cy, w, h``."""
        if dt > 0:
            F = np.eye(_F_DIMS)
            F[:4, 4:] = np.eye(4) * dt
            q = (self.accel * max(self.x[3], 1.0)) ** 2
            block = np.array([[dt**4 / 4, dt**3 / 2], [dt**3 / 2, dt**2]]) * q
            Q = np.zeros((_F_DIMS, _F_DIMS))
            for i in range(4):
                Q[np.ix_([i, i + 4], [i, i + 4])] = block
            self.x = F @ self.x
            self.P = F @ self.P @ F.T + Q
            self.x[2:4] = np.maximum(self.x[2:4], 1.0)
        return self.x[:4].copy()

    def update(self, box: np.ndarray) -> None:
        """Correct the state with a measured ``cx, cy, w, h``."""
        R = np.eye(4) * (self.measurement * max(box[3], 1.0)) ** 2
        H = self._H
        S = H @ self.P @ H.T + R
        K = np.linalg.solve(S, H @ self.P).T
        self.x = self.x + K @ (box - H @ self.x)
        self.P = (np.eye(_F_DIMS) - K @ H) @ self.P

    @property
    def velocity(self) -> tuple[float, float]:
        return float(self.x[4]), float(self.x[5])


def _cxcywh(box: BoundingBox) -> np.ndarray:
    cx, cy = box.center
    return np.array([cx, cy, box.width, box.height], dtype=np.float64)


def _xyxy(state: np.ndarray) -> np.ndarray:
    cx, cy, w, h = state[:4]
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


@dataclass
class Track:
    """One followed object: its filter, label, and counts of matches and misses."""

    id: int
    label: str
    kf: KalmanBoxFilter
    hits: int = 1
    misses: int = 0
    predicted: np.ndarray = field(default_factory=lambda: np.zeros(4))


class Tracker(Plugin):
    """Stable ``track_id`` and ``velocity`` (pixels/s) for the detect stage's detections: IoU
    matching of Kalman-predicted boxes with the Hungarian method (SORT).

    List it under ``detect`` after the detectors. Detections are matched only to tracks of the same
    label (unless ``match_labels`` is false); those whose label is not in ``labels`` (when given),
    and line-like ones with a ``polyline`` (lanes), pass through untracked. A new track gets its id
    once it has been matched ``min_hits`` times in a row; until then its detections carry no id."""

    drid_name = "track"

    class Params(PluginParams):
        iou_threshold: float = Field(default=0.2, ge=0.0, lt=1.0, description="smallest IoU between a predicted box and a detection for a match")
        min_hits: int = Field(default=2, ge=1, description="matches in a row before a new track gets its id (birth)")
        max_age: int = Field(default=5, ge=0, description="frames a track survives without a match (death)")
        labels: list[str] | None = Field(default=None, description="track only these labels (default: every label)")
        match_labels: bool = Field(default=True, description="match detections only to tracks of the same label")
        accel: float = Field(default=2.0, gt=0, description="process noise: white acceleration in box heights per second²")
        measurement: float = Field(default=0.05, gt=0, description="measurement noise in box heights")

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.labels = set(self.params.labels) if self.params.labels else None
        self.reset()

    def reset(self) -> None:
        """Forget every track; ids start again from 1."""
        self.tracks: list[Track] = []
        self._next_id = 1
        self._last_time: float | None = None
        self.births = 0

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Forgets the tracks of a previous run."""
        self.reset()

    @hookimpl(wrapper=True)
    def drid_detect(self, frame: Frame) -> Generator[None, Any, list[list[Detection]]]:
        """Wraps the detect stage: its detections, with ids and velocities where tracks hold them."""
        parts = yield
        detections = [d for part in parts or [] for d in (part if isinstance(part, list) else [part])]
        return [self.update(frame.timestamp, detections)]

    # -- the algorithm ---------------------------------------------------------------------------
    def _trackable(self, d: Detection) -> bool:
        return d.polyline is None and (self.labels is None or d.label in self.labels)

    def update(self, timestamp: float, detections: list[Detection]) -> list[Detection]:
        """Advance every track to ``timestamp``, match ``detections``, and return them with
        ``track_id`` and ``velocity`` set where a confirmed track holds them (order kept)."""
        dt = 0.0 if self._last_time is None else max(0.0, timestamp - self._last_time)
        self._last_time = timestamp
        for t in self.tracks:
            t.predicted = _xyxy(t.kf.predict(dt))

        chosen = [i for i, d in enumerate(detections) if self._trackable(d)]
        pairs = self._match([detections[i] for i in chosen])
        matched_tracks: set[int] = set()
        out = list(detections)
        for det_pos, track_pos in pairs:
            i = chosen[det_pos]
            t = self.tracks[track_pos]
            t.kf.update(_cxcywh(detections[i].box))
            t.hits = t.hits + 1 if t.misses == 0 else 1
            t.misses = 0
            matched_tracks.add(track_pos)
            out[i] = self._stamp(detections[i], t)
        matched_dets = {det_pos for det_pos, _ in pairs}
        for pos, t in enumerate(self.tracks):
            if pos not in matched_tracks:
                t.misses += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.params.max_age]
        for det_pos, i in enumerate(chosen):
            if det_pos not in matched_dets:
                self.tracks.append(Track(id=0, label=detections[i].label, kf=KalmanBoxFilter(_cxcywh(detections[i].box), self.params.accel, self.params.measurement)))
                if self.params.min_hits <= 1:
                    out[i] = self._stamp(detections[i], self.tracks[-1])
        return out

    def _stamp(self, detection: Detection, track: Track) -> Detection:
        if track.id == 0 and track.hits >= self.params.min_hits:
            track.id = self._next_id
            self._next_id += 1
            self.births += 1
        if track.id == 0:
            return detection
        return detection.model_copy(update={"track_id": track.id, "velocity": track.kf.velocity})

    def _match(self, detections: list[Detection]) -> list[tuple[int, int]]:
        """(detection position, track position) pairs with IoU ≥ ``iou_threshold``."""
        if not detections or not self.tracks:
            return []
        boxes = np.array([d.box.as_xyxy() for d in detections], dtype=np.float64)
        predicted = np.array([t.predicted for t in self.tracks])
        iou = iou_matrix(boxes, predicted)
        if self.params.match_labels:
            same = np.array([[d.label == t.label for t in self.tracks] for d in detections])
            iou = np.where(same, iou, 0.0)
        rows, cols = linear_sum_assignment(-iou)
        return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= self.params.iou_threshold and iou[r, c] > 0]
