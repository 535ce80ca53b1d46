"""Detection metrics: IoU matching, precision / recall / F1, average precision, line distance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drid.schemas import iou_matrix

__all__ = ["Counts", "Match", "average_precision", "line_distance", "match_boxes"]


@dataclass(frozen=True)
class Match:
    """The outcome of matching one image's detections to its ground truth.

    ``outcome[i]`` is ``"tp"``, ``"fp"`` or ``"ignored"`` for detection ``i``; ``gt_of[i]`` the index
    of the ground-truth object it matched (or -1), ``iou[i]`` that IoU (or the best IoU it had)."""

    outcome: tuple[str, ...]
    gt_of: tuple[int, ...]
    iou: tuple[float, ...]
    n_truth: int  # objects that count (not ignored)
    missed: tuple[int, ...]  # indexes of counted ground-truth objects no detection found


def match_boxes(det_boxes: np.ndarray, det_scores: Sequence[float], gt_boxes: np.ndarray, gt_ignore: Sequence[bool] = (), iou_threshold: float = 0.5) -> Match:
    """Greedy matching by descending score, as in PASCAL VOC: each detection takes the unmatched
    ground-truth box it overlaps most, if that IoU reaches ``iou_threshold``; a detection that
    overlaps only an ``ignore`` box is ``ignored``; the rest are false positives."""
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    ignore = np.asarray(list(gt_ignore) or [False] * len(gt_boxes), dtype=bool)
    n_det, n_gt = len(det_boxes), len(gt_boxes)
    outcome = ["fp"] * n_det
    gt_of = [-1] * n_det
    best_iou = [0.0] * n_det
    taken = np.zeros(n_gt, dtype=bool)
    iou = iou_matrix(det_boxes, gt_boxes) if n_det and n_gt else np.zeros((n_det, n_gt))
    for i in np.argsort(-np.asarray(det_scores, dtype=np.float64), kind="stable"):
        if n_gt == 0:
            break
        best_iou[i] = float(iou[i].max())
        # Counted objects first; an ignored one only absorbs a detection nothing else wants.
        for pool in (~ignore & ~taken, ignore):
            candidates = np.where(pool, iou[i], -1.0)
            j = int(np.argmax(candidates))
            if candidates[j] >= iou_threshold:
                outcome[i] = "ignored" if ignore[j] else "tp"
                gt_of[i] = j
                best_iou[i] = float(iou[i, j])
                if not ignore[j]:
                    taken[j] = True
                break
    missed = tuple(int(j) for j in np.where(~ignore & ~taken)[0])
    return Match(tuple(outcome), tuple(gt_of), tuple(best_iou), int((~ignore).sum()), missed)


@dataclass
class Counts:
    """True and false positives and the number of ground-truth objects, with the derived rates."""

    tp: int = 0
    fp: int = 0
    n_truth: int = 0

    @property
    def fn(self) -> int:
        return self.n_truth - self.tp

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else (1.0 if self.n_truth == 0 else 0.0)

    @property
    def recall(self) -> float:
        return self.tp / self.n_truth if self.n_truth else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.n_truth += other.n_truth


def average_precision(scores: Sequence[float], is_tp: Sequence[bool], n_truth: int) -> float:
    """Area under the precision-recall curve of detections pooled over images (all-point
    interpolation, PASCAL VOC 2010+): sort by score, precision made monotone, summed over the
    recall steps. 0 when there is nothing to find (``n_truth == 0``)."""
    if n_truth == 0:
        return 0.0
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    tp = np.asarray(is_tp, dtype=np.float64)[order]
    tp_cum = np.cumsum(tp)
    fp_cum = np.cumsum(1.0 - tp)
    recall = tp_cum / n_truth
    precision = tp_cum / np.maximum(tp_cum + fp_cum, 1e-12)
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.where(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def line_distance(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], samples: int = 20) -> float:
    """Mean horizontal distance in pixels between two polylines over the rows both cover (lines
    such as lanes run mostly up the image). ``inf`` when they share less than a quarter of the
    shorter one's height."""

    def x_at(points: np.ndarray, ys: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float64)
        order = np.argsort(pts[:, 1])
        return np.interp(ys, pts[order, 1], pts[order, 0])

    pa, pb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    lo = max(pa[:, 1].min(), pb[:, 1].min())
    hi = min(pa[:, 1].max(), pb[:, 1].max())
    shorter = min(np.ptp(pa[:, 1]), np.ptp(pb[:, 1]))
    if hi - lo < 0.25 * shorter or hi <= lo:
        return float("inf")
    ys = np.linspace(lo, hi, samples)
    return float(np.mean(np.abs(x_at(pa, ys) - x_at(pb, ys))))
