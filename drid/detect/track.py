"""The ``track`` plugin: stable ids and velocities for the detect stage's boxes.

``algorithm: bytetrack`` (the default) associates in two stages in the manner of ByteTrack
(Zhang et al., 2022): confident detections first, then the weak ones to keep followed tracks
alive; ``algorithm: sort`` is the single-stage IoU tracker of SORT (Bewley et al., 2016), kept for
comparison. Both use constant-velocity Kalman filters over the box centre and size, with time from
the frames' timestamps (velocities in pixels per second), and buffers in seconds (``confirm_s``,
``lost_s``) so that they mean the same at any frame rate. Options: an appearance cue
(``appearance: histogram``) to re-identify objects after an occlusion, and camera-motion
compensation (``cmc: sparse-flow``). The algorithms live in ``drid.detect.tracking``; see
docs/tracking.md.

It is a detect-stage *wrapper* (``@hookimpl(wrapper=True)``): list it under ``detect`` after the
detectors; the engine runs it around them, and it sees and returns the whole stage's output.
Tracks are kept per ``frame.source``: one pipeline (or one Ray actor) over several sources never
matches a box of one source to a track of another, and ids are unique across the sources.
A detector given ``interval: N`` runs on every Nth frame only; on the others the engine lists it
in ``frame.meta["detect_skipped"]`` and its tracks are *carried*: reported at their predicted
boxes (``meta["carried"] = True``), neither matched nor counted as missed.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from drid.detect.tracking.appearance import embedding_features, histogram_features
from drid.detect.tracking.cmc import SparseFlowCMC
from drid.detect.tracking.core import LOST, TENTATIVE, Rules, TrackerCore
from drid.detect.tracking.kalman import BoxKalman, KalmanBoxFilter, cxcywh_to_xyxy
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import SKIPPED_META, hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import BoundingBox, Detection, Frame

__all__ = ["CARRIED_META", "SKIPPED_META", "KalmanBoxFilter", "Track", "Tracker"]

CARRIED_META = "carried"
"""``Detection.meta`` key, ``True`` on a box the tracker carried while its detector did not run."""


@dataclass(frozen=True)
class Track:
    """A snapshot of one track: its id (0 while tentative), label, source, state (``tentative``,
    ``tracked`` or ``lost``), predicted ``box`` (xyxy) and velocity in pixels per second."""

    id: int
    label: str
    source: str
    state: str
    box: tuple[float, float, float, float]
    velocity: tuple[float, float]


class Tracker(Plugin):
    """Stable ``track_id`` and ``velocity`` (pixels/s) for the detect stage's detections.

    List it under ``detect`` after the detectors. Detections are matched only to tracks of the same
    label (unless ``match_labels`` is false) and of the same source; those whose label is not in
    ``labels`` (when given), and line-like ones with a ``polyline`` (lanes), pass through
    untracked. A new track gets its id once it has been matched for ``confirm_s`` seconds (or
    ``min_hits`` times) in a row; until then, and for detections no track holds, ``track_id`` stays
    unset. Detections are returned in their order, boxes carried for skipped detectors after them."""

    drid_name = "track"

    class Params(PluginParams):
        algorithm: Literal["bytetrack", "sort"] = Field(default="bytetrack", description="bytetrack: two-stage association (high scores, then low ones); sort: one IoU stage, every score alike")
        high: float = Field(default=0.3, ge=0.0, le=1.0, description="bytetrack: detections scoring at least this are matched first and may start tracks")
        low: float = Field(default=0.1, ge=0.0, le=1.0, description="bytetrack: detections scoring in [low, high) only keep followed tracks alive; below low they are ignored")
        birth: float | None = Field(default=None, ge=0.0, le=1.0, description="bytetrack: smallest score that starts a track (default: high)")
        # Defaults chosen with drid eval tracker on car-detection, one-by-one-person, bikes-street
        # and bigbuckbunny, each with its own detect stage (the numbers: docs/tracking.md).
        # high 0.3, not ByteTrack's 0.5: drid's motion scores the moving share of its box and
        # hog-people cuts at 0.3; 0.5 lost bigbuckbunny (HOTA 10.1 against 22.3), equal elsewhere.
        # iou_threshold 0.3, not 0.2: equal on the clips (HOTA within 0.4), fewer id switches on
        # the benchmark scene (5 against 13).
        iou_threshold: float = Field(default=0.3, ge=0.0, lt=1.0, description="smallest IoU (times the score, with fuse_score) of a match in the first stage (sort: the only stage)")
        low_iou: float = Field(default=0.5, ge=0.0, lt=1.0, description="bytetrack: smallest IoU of a match for a low-score detection")
        fuse_score: bool = Field(default=False, description="bytetrack: weigh IoU by the detection's score in the first stage")
        confirm_s: float = Field(default=0.1, ge=0.0, description="seconds a new track must be matched in every frame before it gets its id")
        lost_s: float = Field(default=1.0, ge=0.0, description="seconds a track may go unmatched (while its detector runs) before it dies; until then it can be found again")
        min_hits: int | None = Field(default=None, ge=1, description="matches in a row before a new track gets its id; frames instead of confirm_s (older configs)")
        max_age: int | None = Field(default=None, ge=0, description="frames a track survives without a match; frames instead of lost_s (older configs)")
        labels: list[str] | None = Field(default=None, description="track only these labels (default: every label)")
        match_labels: bool = Field(default=True, description="match detections only to tracks of the same label")
        accel: float = Field(default=2.0, gt=0, description="process noise: white acceleration in box heights per second²")
        measurement: float = Field(default=0.05, gt=0, description="measurement noise in box heights")
        appearance: Literal["none", "histogram", "embedding"] = Field(default="none", description="bytetrack: appearance cue for re-identification: a colour histogram of the box, or the detector's meta['embedding']")
        # Histogram distances measured on motion tracks of bikes.mp4, car-detection.mp4 and
        # one-by-one-person-detection.mp4 (docs/tracking.md): one object 5 frames apart, median
        # 0.04-0.07, 90th percentile 0.17-0.47; two objects, 10th percentile 0.20-0.30, median 0.53-0.70.
        # 0.3 keeps most of one object's changes and refuses most other objects.
        appearance_threshold: float = Field(default=0.3, gt=0.0, le=1.0, description="largest appearance distance (1 - cosine) of a match by appearance (and of a lost track found again)")
        cmc: Literal["none", "sparse-flow"] = Field(default="none", description="camera-motion compensation: none (a still camera) or sparse optical flow on the background")

        @model_validator(mode="after")
        def _ordered_thresholds(self) -> Tracker.Params:
            if self.low > self.high:
                raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        self.labels = set(p.labels) if p.labels else None
        rules = Rules(
            algorithm=p.algorithm, high=p.high, low=p.low, birth=p.high if p.birth is None else p.birth,
            iou_threshold=p.iou_threshold, low_iou=p.low_iou, fuse_score=p.fuse_score, confirm_s=p.confirm_s,
            lost_s=p.lost_s, min_hits=p.min_hits, max_age=p.max_age, match_labels=p.match_labels,
            appearance_threshold=p.appearance_threshold,
        )
        self.core = TrackerCore(rules, BoxKalman(p.accel, p.measurement))
        self._codes: dict[str, int] = {}
        self._names: list[str] = []
        self._cmc: dict[str, SparseFlowCMC] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def reset(self, source: str | None = None) -> None:
        """Forget the tracks of ``source``, or of every source (ids then start again from 1)."""
        self.core.reset(source)
        if source is None:
            self._cmc.clear()
        else:
            self._cmc.pop(source, None)

    @property
    def births(self) -> int:
        """Tracks confirmed (given an id) since the last full reset."""
        return self.core.next_id - 1

    @property
    def tracks(self) -> list[Track]:
        """Every live track of every source (tentative, followed and lost)."""
        out = []
        states = {TENTATIVE: "tentative", LOST: "lost"}
        for source, ts in self.core.sources.items():
            boxes = cxcywh_to_xyxy(ts.x[:, :4])
            for i in range(len(ts)):
                out.append(Track(int(ts.id[i]), self._names[ts.label[i]], source, states.get(int(ts.state[i]), "tracked"),
                                 tuple(float(v) for v in boxes[i]), (float(ts.x[i, 4]), float(ts.x[i, 5]))))  # type: ignore[arg-type]
        return out

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Forgets the tracks of a previous run."""
        self.reset()

    @hookimpl(wrapper=True)
    def drid_detect(self, frame: Frame) -> Generator[None, Any, list[list[Detection]]]:
        """Wraps the detect stage: its detections, with ids and velocities where tracks hold them,
        and the boxes carried for detectors that skipped this frame."""
        parts = yield
        detections = [d for part in parts or [] for d in (part if isinstance(part, list) else [part])]
        listed = frame.meta.get(SKIPPED_META)
        skipped = [str(name) for name in listed] if isinstance(listed, list) else []
        return [self.update(frame.timestamp, detections, source=frame.source, image=frame.image, skipped=skipped)]

    # -- tracking --------------------------------------------------------------------------------
    def _code(self, name: str) -> int:
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = len(self._names)
            self._names.append(name)
        return code

    def _trackable(self, d: Detection) -> bool:
        return d.polyline is None and (self.labels is None or d.label in self.labels)

    def update(self, timestamp: float, detections: list[Detection], *, source: str = "", image: np.ndarray | None = None,
               skipped: Iterable[str] = ()) -> list[Detection]:
        """Advance ``source``'s tracks to ``timestamp`` and match ``detections``; return them with
        ``track_id`` and ``velocity`` set where a confirmed track holds them (order kept), then the
        carried boxes of the tracks made by the detectors named in ``skipped``. ``image`` (BGR)
        feeds the appearance cue and camera-motion compensation."""
        chosen = [i for i, d in enumerate(detections) if self._trackable(d)]
        picked = [detections[i] for i in chosen]
        boxes = np.array([d.box.as_xyxy() for d in picked], dtype=np.float64).reshape(-1, 4)
        scores = np.array([d.score for d in picked], dtype=np.float64)
        labels = np.array([self._code(d.label) for d in picked], dtype=np.int64)
        groups = np.array([self._code(d.plugin or "") for d in picked], dtype=np.int64)
        features = self._features(image, boxes, picked)
        skipped_codes = np.array([self._code(s) for s in skipped], dtype=np.int64)
        affine = self._camera_motion(source, image, boxes)
        out = self.core.step(source, timestamp, boxes, scores, labels, groups, features, skipped_codes, affine)
        result = list(detections)
        for pos, i in enumerate(chosen):
            if out.ids[pos]:
                result[i] = detections[i].model_copy(update={"track_id": int(out.ids[pos]), "velocity": (float(out.velocity[pos, 0]), float(out.velocity[pos, 1]))})
        height, width = (image.shape[0], image.shape[1]) if image is not None else (None, None)
        for k in range(len(out.carried_ids)):
            box = BoundingBox(x1=float(out.carried_boxes[k, 0]), y1=float(out.carried_boxes[k, 1]), x2=float(out.carried_boxes[k, 2]), y2=float(out.carried_boxes[k, 3]))
            if width is not None and height is not None:
                box = box.clip(width, height)
                if box.width < 1 or box.height < 1:
                    continue  # carried out of the picture
            result.append(Detection(box=box, score=float(out.carried_score[k]), label=self._names[out.carried_label[k]], track_id=int(out.carried_ids[k]),
                                    velocity=(float(out.carried_velocity[k, 0]), float(out.carried_velocity[k, 1])),
                                    plugin=self._names[out.carried_group[k]] or None, meta={CARRIED_META: True}))
        return result

    def update_arrays(self, timestamp: float, boxes: np.ndarray, scores: np.ndarray, labels: Sequence[str] | None = None, *,
                      source: str = "", image: np.ndarray | None = None) -> np.ndarray:
        """The same algorithm on arrays, without messages: xyxy ``boxes`` (N×4), ``scores`` (N),
        optional label names; the track id of each box (0: none). For benchmarks and for callers
        that hold detections as arrays."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(scores) != len(boxes):
            raise ValueError(f"update_arrays: {len(boxes)} boxes but {len(scores)} scores")
        codes = np.zeros(len(boxes), dtype=np.int64) if labels is None else np.array([self._code(s) for s in labels], dtype=np.int64)
        features = histogram_features(image, boxes) if self.params.appearance == "histogram" and image is not None else None
        out = self.core.step(source, timestamp, boxes, scores, codes, np.zeros(len(boxes), dtype=np.int64), features, None,
                             self._camera_motion(source, image, boxes))
        return out.ids

    def _features(self, image: np.ndarray | None, boxes: np.ndarray, picked: list[Detection]) -> np.ndarray | None:
        kind = self.params.appearance
        if kind == "histogram" and image is not None:
            return histogram_features(image, boxes)
        if kind == "embedding":
            return embedding_features([d.meta for d in picked])
        return None

    def _camera_motion(self, source: str, image: np.ndarray | None, boxes: np.ndarray) -> np.ndarray | None:
        if self.params.cmc == "none" or image is None:
            return None
        estimator = self._cmc.get(source)
        if estimator is None:
            estimator = self._cmc[source] = SparseFlowCMC()
        return estimator.estimate(image, boxes)
