"""Detection metrics: IoU matching, precision / recall / F1, average precision, line distance.

Two average precisions: ``average_precision`` is PASCAL VOC's all-point area under the curve;
``interpolated_ap`` and ``detection_ap`` are COCO's (101 recall points, every IoU threshold of
``COCO_IOU_THRESHOLDS`` matched at once), which ``drid eval detector`` reports as AP@0.5 and
AP@[.5:.95]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drid.schemas import iou_matrix

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "APResult",
    "Counts",
    "Match",
    "average_precision",
    "detection_ap",
    "interpolated_ap",
    "line_distance",
    "match_boxes",
    "match_thresholds",
]

#: The IoU thresholds of COCO's AP@[.5:.95]: 0.50, 0.55, …, 0.95.
COCO_IOU_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)

#: Outcome codes of ``match_thresholds``.
TP, FP, IGNORED = 1, 0, -1


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


def match_boxes(det_boxes: np.ndarray, det_scores: Sequence[float] | np.ndarray, gt_boxes: np.ndarray, gt_ignore: Sequence[bool] | np.ndarray = (),
                iou_threshold: float = 0.5) -> Match:
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


def match_thresholds(det_boxes: np.ndarray, det_scores: Sequence[float] | np.ndarray, gt_boxes: np.ndarray, gt_ignore: Sequence[bool] | np.ndarray = (),
                     thresholds: Sequence[float] | np.ndarray = COCO_IOU_THRESHOLDS) -> np.ndarray:
    """``match_boxes`` at every IoU threshold at once: a ``T×N`` int8 array of outcomes per
    threshold and detection (``1`` true positive, ``0`` false positive, ``-1`` ignored). The
    greedy rule is the same (best score first, counted objects before ignored ones), so row ``t``
    equals ``match_boxes(..., thresholds[t]).outcome``."""
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    ignore = np.asarray(list(gt_ignore) or [False] * len(gt_boxes), dtype=bool)
    n_det, n_gt, n_thr = len(det_boxes), len(gt_boxes), len(thr)
    out = np.full((n_thr, n_det), FP, dtype=np.int8)
    if n_det == 0 or n_gt == 0:
        return out
    iou = iou_matrix(det_boxes, gt_boxes)
    taken = np.zeros((n_thr, n_gt), dtype=bool)
    rows = np.arange(n_thr)
    ignored_iou = np.where(ignore[None, :], iou, -1.0).max(axis=1)  # each detection's best overlap with an ignored object
    for i in np.argsort(-np.asarray(det_scores, dtype=np.float64), kind="stable"):
        candidates = np.where(~ignore[None, :] & ~taken, iou[i][None, :], -1.0)  # T×G
        j = candidates.argmax(axis=1)
        hit = candidates[rows, j] >= thr
        taken[rows[hit], j[hit]] = True
        out[hit, i] = TP
        out[~hit & (ignored_iou[i] >= thr), i] = IGNORED
    return out


def interpolated_ap(scores: Sequence[float] | np.ndarray, outcomes: np.ndarray, n_truth: int, points: int = 101) -> np.ndarray:
    """COCO's interpolated average precision of detections pooled over images, one per row of
    ``outcomes`` (``T×N`` codes of ``match_thresholds``, or one row of booleans): detections sorted
    by score, ignored ones dropped, precision made monotone from the right and read at ``points``
    evenly spaced recalls 0, 0.01, …, 1 (0 beyond the highest recall reached). All zeros when
    there is nothing to find."""
    codes = np.atleast_2d(np.asarray(outcomes)).astype(np.int8)
    n_rows = codes.shape[0]
    if n_truth == 0 or codes.shape[1] == 0:
        return np.zeros(n_rows)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    codes = codes[:, order]
    tp = np.cumsum(codes == TP, axis=1, dtype=np.float64)
    fp = np.cumsum(codes == FP, axis=1, dtype=np.float64)
    recall = tp / n_truth
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    levels = np.linspace(0.0, 1.0, points)
    ap = np.empty(n_rows)
    for t in range(n_rows):
        at = np.searchsorted(recall[t], levels - 1e-12, side="left")  # first detection reaching each recall level
        ap[t] = np.where(at < envelope.shape[1], envelope[t, np.minimum(at, envelope.shape[1] - 1)], 0.0).mean()
    return ap


@dataclass(frozen=True)
class APResult:
    """COCO-style average precision over a set of images."""

    thresholds: tuple[float, ...]
    per_threshold: tuple[float, ...]
    n_truth: int
    n_detections: int

    def at(self, iou: float) -> float:
        """AP at one of the thresholds (e.g. 0.5 for AP@0.5)."""
        for t, ap in zip(self.thresholds, self.per_threshold):
            if abs(t - iou) < 1e-9:
                return ap
        raise ValueError(f"IoU threshold {iou} was not evaluated (evaluated: {', '.join(f'{t:g}' for t in self.thresholds)})")

    @property
    def ap50(self) -> float:
        return self.at(0.5)

    @property
    def ap(self) -> float:
        """The mean over the thresholds: AP@[.5:.95] with COCO's thresholds."""
        return float(np.mean(self.per_threshold)) if self.per_threshold else 0.0


def detection_ap(images: Sequence[tuple[np.ndarray, Sequence[float] | np.ndarray, np.ndarray, Sequence[bool] | np.ndarray]],
                 thresholds: Sequence[float] | np.ndarray = COCO_IOU_THRESHOLDS) -> APResult:
    """AP of one class over ``images``, each ``(det_boxes N×4, det_scores N, gt_boxes G×4,
    gt_ignore G)`` in the same pixels: detections matched per image at every threshold
    (``match_thresholds``), pooled, and scored by ``interpolated_ap``."""
    thr = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    scores: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    n_truth = 0
    for det_boxes, det_scores, gt_boxes, gt_ignore in images:
        ignore = np.asarray(list(gt_ignore) or [False] * len(np.asarray(gt_boxes).reshape(-1, 4)), dtype=bool)
        n_truth += int((~ignore).sum())
        codes.append(match_thresholds(det_boxes, det_scores, gt_boxes, ignore, thr))
        scores.append(np.asarray(det_scores, dtype=np.float64).reshape(-1))
    all_scores = np.concatenate(scores) if scores else np.zeros(0)
    all_codes = np.concatenate(codes, axis=1) if codes else np.zeros((len(thr), 0), np.int8)
    ap = interpolated_ap(all_scores, all_codes, n_truth)
    return APResult(tuple(float(t) for t in thr), tuple(float(a) for a in ap), n_truth, int(all_scores.size))
