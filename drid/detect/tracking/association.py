"""Matching detections to tracks: IoU between boxes, and a gated minimum-cost assignment.

``assign`` finds the minimum-cost matching in which every pair costs at most ``max_cost`` (the
gate) and a detection or track left unmatched costs ``max_cost / 2``, the problem ByteTrack hands
to ``lapjv(cost_limit=...)``, solved with ``scipy.optimize.linear_sum_assignment``. Real scenes make the gated cost matrix very sparse: most
detections overlap one track or none. Pairs that are each other's only candidate are matched
directly (such a pair is its own component of the problem, so this is exact), rows and columns
with no candidate are dropped, and only what is left, usually a few crowded pairs, goes to the
Hungarian solver. With a thousand boxes per frame this is what keeps association cheap.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["assign", "iou_matrix"]

_EMPTY = np.zeros(0, dtype=np.intp)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``N×4`` and ``M×4`` xyxy boxes (``N×M``). For many boxes only the pairs
    whose x-extents overlap are computed (found by sorting ``b`` on ``x1``): in a frame of a
    thousand people that is a few percent of the pairs; the others are 0."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return np.zeros((n, m))
    if n * m > 4096:
        order = np.argsort(b[:, 0], kind="stable")
        bx1 = b[order, 0]
        widest = float((b[:, 2] - b[:, 0]).max())
        lo = np.searchsorted(bx1, a[:, 0] - widest, side="left")  # b.x2 > a.x1 needs b.x1 > a.x1 - widest
        hi = np.searchsorted(bx1, a[:, 2], side="left")  # and b.x1 < a.x2
        counts = np.maximum(hi - lo, 0)
        total = int(counts.sum())
        if total < n * m // 4:
            rows = np.repeat(np.arange(n), counts)
            starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
            cols = order[starts + np.arange(total)]
            out = np.zeros((n, m))
            out[rows, cols] = _pair_iou(a[rows], b[cols])
            return out
    return _dense_iou(a, b)


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0, None)
    inter = w * h
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / np.maximum(union, 1e-9)


def _dense_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.minimum(a[:, None, 2], b[None, :, 2])
    w -= np.maximum(a[:, None, 0], b[None, :, 0])
    np.maximum(w, 0.0, out=w)
    h = np.minimum(a[:, None, 3], b[None, :, 3])
    h -= np.maximum(a[:, None, 1], b[None, :, 1])
    np.maximum(h, 0.0, out=h)
    inter = w
    inter *= h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :]
    union -= inter
    np.maximum(union, 1e-9, out=union)
    inter /= union
    return inter


def assign(cost: np.ndarray, max_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the minimum-cost matching among pairs with ``cost <= max_cost``
    (every returned pair is within the gate)."""
    if cost.size == 0:
        return _EMPTY, _EMPTY
    valid = cost <= max_cost
    row_n = valid.sum(axis=1)
    col_n = valid.sum(axis=0)
    r_idx, c_idx = np.nonzero(valid & (row_n == 1)[:, None] & (col_n == 1)[None, :])
    rest_rows, rest_cols = row_n > 0, col_n > 0
    rest_rows[r_idx] = False
    rest_cols[c_idx] = False
    rest_r, rest_c = np.flatnonzero(rest_rows), np.flatnonzero(rest_cols)
    if len(rest_r) == 0 or len(rest_c) == 0:
        return r_idx, c_idx
    sub = cost[np.ix_(rest_r, rest_c)]
    sub_valid = valid[np.ix_(rest_r, rest_c)]
    # As lapjv with a cost limit: a pair costs its cost, a detection or track left over costs
    # max_cost/2, so a pair is worth taking when it costs less than max_cost. Shifting the gated
    # costs by max_cost and giving the others 0 (no gain) asks the rectangular solver exactly that.
    rows, cols = linear_sum_assignment(np.where(sub_valid, sub - (max_cost + 1e-9), 0.0))
    ok = sub_valid[rows, cols]
    return np.concatenate([r_idx, rest_r[rows[ok]]]), np.concatenate([c_idx, rest_c[cols[ok]]])
