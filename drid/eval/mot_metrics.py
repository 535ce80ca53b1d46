"""The scores of a tracker against ground truth (CLEAR MOT, identity and HOTA), on the boxes
with identities of :class:`drid.eval.mot.Tracks`.

:func:`evaluate_tracks` computes, at an IoU threshold (0.5 by default):

* CLEAR MOT (Bernardin & Stiefelhagen 2008), matched frame by frame as ``motmetrics`` does
  (a ground-truth object keeps the prediction it was last matched to while their IoU passes;
  the rest are assigned by the Hungarian method, most matches first, then smallest distance):
  MOTA, MOTP (the mean IoU of the matches, higher is better, as MOTChallenge reports it;
  ``motmetrics`` gives 1 - this), ID switches, fragmentations, mostly tracked / partially tracked
  / mostly lost objects (tracked ≥ 80 %, between, < 20 % of their frames);
* identity scores (Ristani et al. 2016): IDF1, IDP, IDR from the one-to-one assignment of
  ground-truth to predicted identities that maximises the frames they share;
* HOTA (Luiten et al. 2021) with DetA, AssA, LocA (and DetRe, DetPr, AssRe, AssPr), each
  averaged over the localisation thresholds α = 0.05, 0.10, …, 0.95. Frame by frame, pairs are
  assigned by the Hungarian method on IoU weighted by how well the two identities align over the
  whole sequence, then kept at each α where their IoU reaches α.
  Where there is nothing to score (no ground truth, or no prediction) HOTA, DetA and AssA are 0
  and LocA is 1, as in TrackEval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from drid.eval.mot import Tracks
from drid.schemas import iou_matrix

__all__ = ["ALPHAS", "TrackingMetrics", "evaluate_tracks"]

#: The localisation thresholds HOTA is averaged over (exact decimals: 0.5 is 0.5).
ALPHAS = np.arange(1, 20) / 20.0
_EPS = np.finfo(np.float64).eps


@dataclass
class TrackingMetrics:
    """The scores of one evaluation (see the module docstring for the definitions). Counts are
    integers; ratios are floats, ``nan`` where undefined (MOTA, MOTP, IDF1 … without ground truth
    or matches)."""

    num_frames: int = 0
    num_gt: int = 0  # ground-truth boxes scored (not ignored)
    num_pred: int = 0  # predicted boxes scored (not on an ignored box)
    num_gt_ids: int = 0
    num_pred_ids: int = 0
    num_ignored_pred: int = 0
    matches: int = 0  # matched boxes, switches included
    fp: int = 0
    fn: int = 0
    id_switches: int = 0
    fragmentations: int = 0
    mostly_tracked: int = 0
    partially_tracked: int = 0
    mostly_lost: int = 0
    mota: float = math.nan
    motp: float = math.nan
    idtp: int = 0
    idfp: int = 0
    idfn: int = 0
    idf1: float = math.nan
    idp: float = math.nan
    idr: float = math.nan
    hota: float = 0.0
    deta: float = 0.0
    assa: float = 0.0
    loca: float = 1.0
    detre: float = 0.0
    detpr: float = 0.0
    assre: float = 0.0
    asspr: float = 0.0
    hota_alpha: list[float] = field(default_factory=lambda: [0.0] * len(ALPHAS))  # HOTA at each α of ALPHAS
    iou_threshold: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        return {f.name: _json_number(getattr(self, f.name)) for f in fields(self)}


def _json_number(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_number(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


class _FrameIndex:
    """Rows of ``tracks`` grouped by frame: ``rows(f)`` are the row numbers in frame ``f``."""

    def __init__(self, tracks: Tracks) -> None:
        self.order = np.argsort(tracks.frame, kind="stable")
        self.frames = tracks.frame[self.order]

    def rows(self, frame: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.frames, [frame, frame + 1])
        return self.order[lo:hi]


def _assign(score: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian assignment maximising the number of valid pairs, then the total ``score``."""
    if not valid.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # an invalid pair costs more than any set of valid ones can gain (scores lie in [0, 1])
    big = float(min(score.shape)) + 1.0
    cost = np.where(valid, -score, big)
    r, c = linear_sum_assignment(cost)
    keep = valid[r, c]
    return r[keep], c[keep]


def _drop_ignored(gt: Tracks, pred: Tracks, threshold: float) -> tuple[Tracks, Tracks, int]:
    """Remove the ignored ground truth, and the predictions matched to it: frame by frame the
    predictions are assigned to all ground truth (most IoU), and those whose partner is ignored
    go (a prediction on a real object beside an ignored one stays)."""
    if not gt.ignore.any():
        return gt, pred, 0
    keep = np.ones(len(pred), dtype=bool)
    gi, pi = _FrameIndex(gt), _FrameIndex(pred)
    for f in np.unique(gt.frame[gt.ignore]):
        g, p = gi.rows(int(f)), pi.rows(int(f))
        if not len(p):
            continue
        iou = iou_matrix(gt.box[g], pred.box[p])
        r, c = _assign(iou, iou >= threshold - _EPS)
        keep[p[c[gt.ignore[g[r]]]]] = False
    return gt.select(~gt.ignore), pred.select(keep), int((~keep).sum())


def evaluate_tracks(gt: Tracks, pred: Tracks, *, frames: Iterable[int] | None = None, iou_threshold: float = 0.5,
                    labels: Iterable[str] | None = None) -> TrackingMetrics:
    """Score the predicted tracks ``pred`` against the ground truth ``gt`` (see the module
    docstring). ``frames`` are the frames that were annotated (default: every frame either holds):
    boxes elsewhere are not scored, and an annotated frame without ground truth makes every
    prediction on it a false positive. ``labels`` keeps the ground truth of those labels only
    (ignored boxes of any label stay ignored); predictions are scored whatever their label."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if labels is not None:
        gt = gt.select(gt.ignore | np.isin(gt.label, list(labels)))
    evaluated = np.unique(np.concatenate([gt.frame, pred.frame])) if frames is None else np.unique(np.fromiter(frames, dtype=np.int64))
    gt = gt.select(np.isin(gt.frame, evaluated))
    pred = pred.select(np.isin(pred.frame, evaluated))
    gt, pred, dropped = _drop_ignored(gt, pred, iou_threshold)

    # dense identity indices: row → 0..G-1 / 0..P-1
    gt_ids, g_of = np.unique(gt.id, return_inverse=True)
    pred_ids, p_of = np.unique(pred.id, return_inverse=True)
    G, P = len(gt_ids), len(pred_ids)
    m = TrackingMetrics(num_frames=len(evaluated), num_gt=len(gt), num_pred=len(pred), num_gt_ids=G, num_pred_ids=P,
                        num_ignored_pred=dropped, iou_threshold=iou_threshold)
    gidx, pidx = _FrameIndex(gt), _FrameIndex(pred)
    per_frame = []
    for f in evaluated:
        g, p = gidx.rows(int(f)), pidx.rows(int(f))
        per_frame.append((g, p, iou_matrix(gt.box[g], pred.box[p]) if len(g) and len(p) else np.zeros((len(g), len(p)))))

    _clear(m, gt, g_of, p_of, per_frame, iou_threshold)
    _identity(m, g_of, p_of, G, P, per_frame, iou_threshold)
    _hota(m, g_of, p_of, G, P, per_frame)
    return m


def _clear(m: TrackingMetrics, gt: Tracks, g_of: np.ndarray, p_of: np.ndarray, per_frame: list[Any], threshold: float) -> None:
    last: dict[int, int] = {}  # ground-truth identity → the prediction it was last matched to
    tracked = np.zeros(len(gt), dtype=bool)
    iou_sum = 0.0
    for g, p, iou in per_frame:
        if not (len(g) and len(p)):
            continue
        valid = (1.0 - iou) <= (1.0 - threshold)  # motmetrics' test, on distances
        gid, pid = g_of[g], p_of[p]
        taken_g = np.zeros(len(g), dtype=bool)
        taken_p = np.zeros(len(p), dtype=bool)
        # 1. pairs that were matched before stay matched while their IoU passes
        for i in range(len(g)):
            prev = last.get(int(gid[i]))
            if prev is None:
                continue
            j = np.flatnonzero((pid == prev) & ~taken_p)
            if len(j) and valid[i, j[0]]:
                taken_g[i] = taken_p[j[0]] = True
                tracked[g[i]] = True
                iou_sum += iou[i, j[0]]
        # 2. the rest by the Hungarian method; a new partner for a tracked object is a switch
        open_pairs = valid & ~taken_g[:, None] & ~taken_p[None, :]
        rows, cols = _assign(iou, open_pairs)
        for i, j in zip(rows, cols):
            o, h = int(gid[i]), int(pid[j])
            if o in last and last[o] != h:
                m.id_switches += 1
            last[o] = h
            tracked[g[i]] = True
            iou_sum += iou[i, j]
    m.matches = int(tracked.sum())
    m.fn = m.num_gt - m.matches
    m.fp = m.num_pred - m.matches
    m.mota = 1.0 - _ratio(m.fn + m.fp + m.id_switches, m.num_gt) if m.num_gt else math.nan
    m.motp = _ratio(iou_sum, m.matches)
    if not len(gt):
        return
    # per identity, in frame order: share of frames tracked, and tracked → lost transitions
    order = np.lexsort((gt.frame, g_of))
    ident, hit = g_of[order], tracked[order]
    counts = np.bincount(ident)
    ratio = np.bincount(ident, weights=hit) / counts
    m.mostly_tracked = int((ratio >= 0.8).sum())
    m.mostly_lost = int((ratio < 0.2).sum())
    m.partially_tracked = len(counts) - m.mostly_tracked - m.mostly_lost
    same = ident[1:] == ident[:-1]
    drops = int((same & hit[:-1] & ~hit[1:]).sum())
    # a drop after an identity's last tracked frame ends its span rather than fragmenting it
    last_row = np.r_[~same, True]
    ever = np.bincount(ident, weights=hit)[ident] > 0
    m.fragmentations = drops - int((last_row & ~hit & ever).sum())


def _identity(m: TrackingMetrics, g_of: np.ndarray, p_of: np.ndarray, G: int, P: int, per_frame: list[Any], threshold: float) -> None:
    keys = []  # one per frame and pair of boxes that overlap enough: identity pair g * P + p
    for g, p, iou in per_frame:
        if iou.size:
            i, j = np.nonzero((1.0 - iou) <= (1.0 - threshold))
            keys.append(g_of[g][i] * P + p_of[p][j])
    shared = np.bincount(np.concatenate(keys), minlength=G * P).reshape(G, P) if keys else np.zeros((G, P))
    if shared.size:
        r, c = linear_sum_assignment(shared, maximize=True)
        m.idtp = int(shared[r, c].sum())
    m.idfn = m.num_gt - m.idtp
    m.idfp = m.num_pred - m.idtp
    m.idp = _ratio(m.idtp, m.num_pred)
    m.idr = _ratio(m.idtp, m.num_gt)
    m.idf1 = _ratio(2 * m.idtp, m.num_gt + m.num_pred)


def _hota(m: TrackingMetrics, g_of: np.ndarray, p_of: np.ndarray, G: int, P: int, per_frame: list[Any]) -> None:
    if m.num_gt == 0 or m.num_pred == 0:
        m.hota_alpha = [0.0] * len(ALPHAS)
        return  # HOTA, DetA, AssA 0 and LocA 1, as TrackEval
    gt_count = np.bincount(g_of, minlength=G).astype(np.float64)
    pred_count = np.bincount(p_of, minlength=P).astype(np.float64)
    # how well each pair of identities aligns over the sequence, from per-frame IoU shares
    keys, weights = [], []
    for g, p, iou in per_frame:
        if not iou.size:
            continue
        denom = iou.sum(axis=1, keepdims=True) + iou.sum(axis=0, keepdims=True) - iou
        share = np.divide(iou, denom, out=np.zeros_like(iou), where=denom > _EPS)
        keys.append((g_of[g][:, None] * P + p_of[p][None, :]).ravel())
        weights.append(share.ravel())
    potential = np.bincount(np.concatenate(keys), np.concatenate(weights), minlength=G * P).reshape(G, P) if keys else np.zeros((G, P))
    alignment = potential / (gt_count[:, None] + pred_count[None, :] - potential)
    # frame by frame: the pairs assigned, with their IoU
    pair_keys, pair_iou = [], []
    for g, p, iou in per_frame:
        if not iou.size:
            continue
        gi, pj = g_of[g], p_of[p]
        r, c = linear_sum_assignment(alignment[np.ix_(gi, pj)] * iou, maximize=True)
        pair_keys.append(gi[r] * P + pj[c])
        pair_iou.append(iou[r, c])
    key = np.concatenate(pair_keys) if pair_keys else np.zeros(0, dtype=np.int64)
    sim = np.concatenate(pair_iou) if pair_iou else np.zeros(0)
    hit = sim[None, :] >= ALPHAS[:, None] - _EPS  # (alphas, pairs)
    tp = hit.sum(axis=1).astype(np.float64)
    fn, fp = m.num_gt - tp, m.num_pred - tp
    loc = np.maximum(1e-10, (hit * sim[None, :]).sum(axis=1)) / np.maximum(1e-10, tp)
    unique, inverse = np.unique(key, return_inverse=True)
    ug, up = unique // max(P, 1), unique % max(P, 1)
    counts = np.stack([np.bincount(inverse, weights=row, minlength=len(unique)) for row in hit]) if len(unique) else np.zeros((len(ALPHAS), 0))
    gc, pc = gt_count[ug][None, :], pred_count[up][None, :]
    per_tp = np.maximum(1.0, tp)
    assa = (counts * counts / np.maximum(1.0, gc + pc - counts)).sum(axis=1) / per_tp
    assre = (counts * counts / np.maximum(1.0, gc)).sum(axis=1) / per_tp
    asspr = (counts * counts / np.maximum(1.0, pc)).sum(axis=1) / per_tp
    deta = tp / np.maximum(1.0, tp + fn + fp)
    hota = np.sqrt(deta * assa)
    m.hota_alpha = [float(v) for v in hota]
    m.hota, m.deta, m.assa, m.loca = float(hota.mean()), float(deta.mean()), float(assa.mean()), float(loc.mean())
    m.detre = float((tp / np.maximum(1.0, tp + fn)).mean())
    m.detpr = float((tp / np.maximum(1.0, tp + fp)).mean())
    m.assre, m.asspr = float(assre.mean()), float(asspr.mean())
