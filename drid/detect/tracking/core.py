"""The tracking algorithms on arrays: ByteTrack's two-stage association and SORT's single one,
over one :class:`TrackSet` per source.

ByteTrack (Zhang et al., ECCV 2022) in drid's terms, per frame:

1. every track is predicted to the frame's time (and moved by the camera's motion when known);
2. detections scoring at least ``high`` are matched to the confirmed tracks, those followed and
   those lost, by IoU (weighted by the detection's score, ``fuse_score``). With an appearance cue,
   appearance may also decide between boxes that overlap well (as BoT-SORT does), and lost tracks
   are matched by appearance instead, to detections within a few box sizes of the prediction: an
   object that reappears after an occlusion gets its old id back even when its box no longer
   overlaps the extrapolated one, and another object passing there does not take it;
3. detections scoring between ``low`` and ``high`` are matched to the followed tracks still
   unmatched, by IoU alone and more strictly (``low_iou``): a weak, partly hidden detection keeps
   its track alive instead of being thrown away or starting a new one;
4. the high detections left over are matched to tentative tracks, by IoU or, since a new track
   has no velocity yet, by the Kalman filter's Mahalanobis distance within its 95 % gate;
5. high detections still left, scoring at least ``birth``, start tentative tracks; a tentative
   track that misses a frame is dropped, one matched for ``confirm_s`` seconds is confirmed and
   gets an id; a confirmed track unmatched for more than ``lost_s`` seconds dies.

Times are seconds from the frames' timestamps, so the buffers mean the same at 5 and at 30 frames
per second. Tracks whose detector did not run on a frame (``interval``) are *carried*: predicted,
reported, and neither matched nor counted as missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from drid.detect.tracking.association import assign, iou_matrix
from drid.detect.tracking.kalman import BoxKalman, cxcywh_to_xyxy, xyxy_to_cxcywh

__all__ = ["LOST", "TENTATIVE", "TRACKED", "Rules", "StepOutput", "TrackSet", "TrackerCore"]

TENTATIVE, TRACKED, LOST = 0, 1, 2
_EPS = 1e-6  # seconds: sums of frame intervals are not exact
_GATE = 9.4877  # chi-square, 4 degrees of freedom, 95 %: the Mahalanobis gate of a tentative track
_FEATURE_MOMENTUM = 0.9  # a track's appearance: running average over its matched detections


@dataclass(frozen=True)
class Rules:
    """What the algorithms need from the plugin's parameters (see ``drid.detect.track``)."""

    algorithm: Literal["bytetrack", "sort"] = "bytetrack"
    high: float = 0.3
    low: float = 0.1
    birth: float = 0.3
    iou_threshold: float = 0.3
    low_iou: float = 0.5
    fuse_score: bool = False
    confirm_s: float = 0.1
    lost_s: float = 1.0
    min_hits: int | None = None
    max_age: int | None = None
    match_labels: bool = True
    appearance_threshold: float = 0.3
    reid_radius: float = 2.0


class TrackSet:
    """The tracks of one source as parallel arrays: Kalman states ``x`` and covariances ``P``,
    ids (0 while tentative), label and detector codes, state, consecutive ``hits``, ``misses``
    and seconds since the last match ``missed_s``, seconds of continuous matching ``run_s``, the
    last score, and appearance features when a cue is on."""

    def __init__(self) -> None:
        self.x = np.zeros((0, 8))
        self.P = np.zeros((0, 4, 3))
        self.id = np.zeros(0, dtype=np.int64)
        self.label = np.zeros(0, dtype=np.int64)
        self.group = np.zeros(0, dtype=np.int64)
        self.state = np.zeros(0, dtype=np.int8)
        self.hits = np.zeros(0, dtype=np.int64)
        self.misses = np.zeros(0, dtype=np.int64)
        self.run_s = np.zeros(0)
        self.missed_s = np.zeros(0)
        self.score = np.zeros(0)
        self.feature: np.ndarray | None = None
        self.last_t: float | None = None

    def __len__(self) -> int:
        return len(self.id)

    def add(self, x: np.ndarray, P: np.ndarray, label: np.ndarray, group: np.ndarray, score: np.ndarray, feature: np.ndarray | None) -> None:
        n = len(x)
        self.x = np.concatenate([self.x, x])
        self.P = np.concatenate([self.P, P])
        self.id = np.concatenate([self.id, np.zeros(n, dtype=np.int64)])
        self.label = np.concatenate([self.label, label.astype(np.int64)])
        self.group = np.concatenate([self.group, group.astype(np.int64)])
        self.state = np.concatenate([self.state, np.full(n, TENTATIVE, dtype=np.int8)])
        self.hits = np.concatenate([self.hits, np.ones(n, dtype=np.int64)])
        self.misses = np.concatenate([self.misses, np.zeros(n, dtype=np.int64)])
        self.run_s = np.concatenate([self.run_s, np.zeros(n)])
        self.missed_s = np.concatenate([self.missed_s, np.zeros(n)])
        self.score = np.concatenate([self.score, score.astype(np.float64)])
        if feature is not None or self.feature is not None:
            dim = feature.shape[1] if feature is not None else self.feature.shape[1]  # type: ignore[union-attr]
            old = self.feature if self.feature is not None and self.feature.shape[1] == dim else np.zeros((len(self.id) - n, dim), dtype=np.float32)
            new = feature if feature is not None and feature.shape[1] == dim else np.zeros((n, dim), dtype=np.float32)
            self.feature = np.concatenate([old, new])

    def keep(self, mask: np.ndarray) -> None:
        for name in ("x", "P", "id", "label", "group", "state", "hits", "misses", "run_s", "missed_s", "score"):
            setattr(self, name, getattr(self, name)[mask])
        if self.feature is not None:
            self.feature = self.feature[mask]


@dataclass
class StepOutput:
    """One frame's result: for each detection the id of the confirmed track that holds it (0:
    none) and that track's velocity; and the confirmed tracks carried through the frame because
    their detector did not run (their predicted xyxy boxes, ids, velocities, label and detector
    codes, last scores)."""

    ids: np.ndarray
    velocity: np.ndarray
    carried_boxes: np.ndarray
    carried_ids: np.ndarray
    carried_velocity: np.ndarray
    carried_label: np.ndarray
    carried_group: np.ndarray
    carried_score: np.ndarray


class TrackerCore:
    """One tracker's state over every source: a :class:`TrackSet` per source and one id counter,
    so ids never repeat across the sources of a pipeline (or of a Ray actor serving many)."""

    def __init__(self, rules: Rules, kalman: BoxKalman) -> None:
        self.rules = rules
        self.kalman = kalman
        self.sources: dict[str, TrackSet] = {}
        self.next_id = 1

    def reset(self, source: str | None = None) -> None:
        """Forget one source's tracks, or every source's (ids then start again from 1)."""
        if source is None:
            self.sources.clear()
            self.next_id = 1
        else:
            self.sources.pop(source, None)

    def _new_ids(self, n: int) -> np.ndarray:
        ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
        self.next_id += n
        return ids

    def step(
        self,
        source: str,
        t: float,
        boxes: np.ndarray,
        scores: np.ndarray,
        labels: np.ndarray,
        groups: np.ndarray,
        features: np.ndarray | None = None,
        skipped: np.ndarray | None = None,
        affine: np.ndarray | None = None,
    ) -> StepOutput:
        """Advance ``source``'s tracks to time ``t`` and match the xyxy ``boxes`` (with their
        ``scores``, integer ``labels`` and detector codes ``groups``; unit appearance
        ``features`` when a cue is on). Tracks of the detector codes in ``skipped`` are carried;
        ``affine`` is the camera's motion since the previous frame."""
        ts = self.sources.get(source)
        if ts is None:
            ts = self.sources[source] = TrackSet()
        r = self.rules
        dt = 0.0 if ts.last_t is None else max(0.0, t - ts.last_t)
        ts.last_t = t
        self.kalman.predict(ts.x, ts.P, dt)
        if affine is not None:
            self.kalman.warp(ts.x, ts.P, affine)
        pred = cxcywh_to_xyxy(ts.x[:, :4])
        carried = np.isin(ts.group, skipped) if skipped is not None and len(skipped) else np.zeros(len(ts), dtype=bool)
        n = len(boxes)
        det_track = np.full(n, -1, dtype=np.int64)
        matched = np.zeros(len(ts), dtype=bool)
        use_features = features is not None and ts.feature is not None and ts.feature.shape[1] == features.shape[1]

        def match(dets: np.ndarray, trks: np.ndarray, max_cost: float, fuse: bool, appearance: bool, motion_gate: bool = False) -> None:
            if len(dets) == 0 or len(trks) == 0:
                return
            iou = iou_matrix(boxes[dets], pred[trks])
            cost = 1.0 - (iou * scores[dets, None] if fuse else iou)
            if motion_gate:
                # A new track has no velocity yet, so its prediction stands still: after a long
                # frame interval (or a skipped detector) the object may have left the box. The
                # filter's own uncertainty says how far it may have gone.
                d2 = self.kalman.distance(ts.x[trks], ts.P[trks], xyxy_to_cxcywh(boxes[dets]))
                np.minimum(cost, np.where(d2 <= _GATE, max_cost * d2 / _GATE, np.inf), out=cost)
            if appearance:
                app = 1.0 - features[dets] @ ts.feature[trks].T  # type: ignore[index]
                alike = app <= r.appearance_threshold
                # followed tracks: appearance may decide between boxes that overlap well (BoT-SORT)
                np.minimum(cost, np.where(alike & (iou >= 0.5), app, 1.0), out=cost)
                lost = ts.state[trks] == LOST
                if lost.any():
                    # lost tracks: found again by appearance alone, within reid_radius box sizes of
                    # the prediction (more the longer lost); overlap with an extrapolated box is weak
                    centres = (boxes[dets, :2] + boxes[dets, 2:]) * 0.5
                    dist = np.linalg.norm(centres[:, None, :] - ts.x[None, trks, :2], axis=2)
                    radius = r.reid_radius * np.maximum(ts.x[trks, 2], ts.x[trks, 3]) * (1.0 + ts.missed_s[trks])
                    cost[:, lost] = np.where(alike[:, lost] & (dist[:, lost] <= radius[None, lost]), app[:, lost], np.inf)
            if r.match_labels:
                dl, tl = labels[dets], ts.label[trks]
                if dl.min() != dl.max() or tl.min() != tl.max() or dl[0] != tl[0]:  # not all one label
                    cost[dl[:, None] != tl[None, :]] = np.inf
            rows, cols = assign(cost, max_cost)
            det_track[dets[rows]] = trks[cols]
            matched[trks[cols]] = True

        confirmed = ts.id > 0
        live = ~carried
        high = scores >= r.high
        if r.algorithm == "sort":  # the classic recipe: drop what scores below high, match the rest once
            match(np.flatnonzero(high), np.flatnonzero(live), min(1.0 - r.iou_threshold, 1.0 - 1e-9), False, False)
        else:
            match(np.flatnonzero(high), np.flatnonzero(live & confirmed), 1.0 - r.iou_threshold, r.fuse_score, use_features)
            low = (scores >= r.low) & ~high
            match(np.flatnonzero(low), np.flatnonzero(live & confirmed & (ts.state == TRACKED) & ~matched), 1.0 - r.low_iou, False, False)
            left = np.flatnonzero(high & (det_track < 0))
            match(left, np.flatnonzero(live & ~confirmed), 1.0 - r.iou_threshold, r.fuse_score, False, motion_gate=True)

        # matched tracks: correct, count, confirm
        rows = np.flatnonzero(det_track >= 0)
        m = det_track[rows]
        self.kalman.update(ts.x, ts.P, m, xyxy_to_cxcywh(boxes[rows]))
        ts.hits[m] += 1
        ts.run_s[m] += dt
        ts.run_s[carried] += dt  # not contradicted either: a carried tentative track keeps its run
        ts.misses[m] = 0
        ts.missed_s[m] = 0.0
        ts.state[m] = TRACKED
        ts.score[m] = scores[rows]
        if use_features:
            fresh = rows[scores[rows] >= r.high] if r.algorithm == "bytetrack" else rows
            ft = det_track[fresh]
            blend = _FEATURE_MOMENTUM * ts.feature[ft] + (1.0 - _FEATURE_MOMENTUM) * features[fresh]  # type: ignore[index]
            ts.feature[ft] = blend / np.maximum(np.linalg.norm(blend, axis=1, keepdims=True), 1e-12)  # type: ignore[index]

        # unmatched tracks the detector looked for
        missed = np.flatnonzero(~matched & ~carried)
        ts.misses[missed] += 1
        ts.missed_s[missed] += dt
        ts.hits[missed] = 0
        ts.run_s[missed] = 0.0
        newly_lost = missed[ts.state[missed] == TRACKED]
        ts.x[newly_lost, 6:8] = 0.0  # a lost box keeps moving but stops growing or shrinking
        ts.state[missed[ts.id[missed] > 0]] = LOST

        # births
        born = np.flatnonzero((det_track < 0) & (scores >= (r.high if r.algorithm == "sort" else r.birth)))
        if len(born):
            x, P = self.kalman.initiate(xyxy_to_cxcywh(boxes[born]))
            first = len(ts)
            ts.add(x, P, labels[born], groups[born], scores[born], features[born] if features is not None else None)
            det_track[born] = np.arange(first, len(ts))
            confirmed = np.concatenate([confirmed, np.zeros(len(born), dtype=bool)])
            carried = np.concatenate([carried, np.zeros(len(born), dtype=bool)])
            missed_mask = np.zeros(len(ts), dtype=bool)
        else:
            missed_mask = np.zeros(len(ts), dtype=bool)
        missed_mask[missed] = True

        # confirmation: seconds of continuous matching (or min_hits matches in a row)
        ready = ts.hits >= r.min_hits if r.min_hits is not None else ts.run_s >= r.confirm_s - _EPS
        promote = np.flatnonzero((ts.id == 0) & ready & ~missed_mask & ~carried)
        if len(promote):
            ts.id[promote] = self._new_ids(len(promote))
            ts.state[promote] = TRACKED

        # outputs, before the dead are removed
        held = np.flatnonzero(det_track >= 0)
        ids = np.zeros(n, dtype=np.int64)
        velocity = np.zeros((n, 2))
        ids[held] = ts.id[det_track[held]]
        velocity[held] = ts.x[det_track[held], 4:6]
        c = np.flatnonzero(carried & (ts.id > 0) & (ts.state == TRACKED))
        out = StepOutput(ids, velocity, cxcywh_to_xyxy(ts.x[c, :4]), ts.id[c].copy(), ts.x[c, 4:6].copy(), ts.label[c].copy(), ts.group[c].copy(), ts.score[c].copy())

        # deaths
        if r.max_age is not None:
            dead = ts.misses > r.max_age
        else:
            dead = ts.missed_s > r.lost_s + _EPS
        if r.algorithm == "bytetrack":
            dead |= missed_mask & (ts.id == 0)  # a tentative track that misses a frame was noise
        if dead.any():
            ts.keep(~dead)
        return out
