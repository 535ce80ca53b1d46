"""Multi-object tracking: boxes with identities over frames, MOTChallenge text files, and the
scores of a tracker against ground truth (CLEAR MOT, identity and HOTA).

Boxes with identities live in :class:`Tracks`, one row per box (column arrays). Frames are drid's
video frame numbers, counted from 0; MOTChallenge text files count from 1, and
:func:`read_mot` / :func:`write_mot` convert at the boundary.

A MOTChallenge line is ``frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z`` (a result) or
``frame,id,bb_left,bb_top,bb_width,bb_height,flag,class,visibility`` (ground truth, MOT16 and
later). In ground truth a ``flag`` of 0 marks a box to ignore, and so may a class given as a
distractor or a visibility below a minimum: a predicted box on an ignored one is neither a true
nor a false positive.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment

from drid.errors import ConfigError
from drid.schemas import iou_matrix

__all__ = ["ALPHAS", "MOT_CLASSES", "TrackingMetrics", "Tracks", "evaluate_tracks", "read_mot", "write_mot"]

#: The localisation thresholds HOTA is averaged over (exact decimals: 0.5 is 0.5).
ALPHAS = np.arange(1, 20) / 20.0

#: MOTChallenge class numbers (MOT16/17/20 ground truth) and the labels drid gives them.
MOT_CLASSES: dict[int, str] = {
    1: "pedestrian", 2: "person_on_vehicle", 3: "car", 4: "bicycle", 5: "motorbike", 6: "non_mot_vehicle",
    7: "static_person", 8: "distractor", 9: "occluder", 10: "occluder_on_ground", 11: "occluder_full", 12: "reflection", 13: "crowd",
}
_CLASS_NUMBERS = {name: number for number, name in MOT_CLASSES.items()} | {"person": 1}
_EPS = np.finfo(np.float64).eps


class Tracks:
    """Boxes with identities: row ``i`` is box ``box[i]`` (``x1, y1, x2, y2`` in pixels) of
    identity ``id[i]`` in frame ``frame[i]`` (from 0), with a ``score``, a ``label``, an
    ``ignore`` flag (ground truth a tracker may find or miss without penalty) and a
    ``visibility`` (1 when unknown). An identity appears at most once per frame. Columns are
    numpy arrays (given as anything ``np.asarray`` reads); treat them as read-only."""

    COLUMNS = ("frame", "id", "box", "score", "label", "ignore", "visibility")

    def __init__(self, frame: ArrayLike, id: ArrayLike, box: ArrayLike, score: ArrayLike | None = None, label: ArrayLike | None = None,
                 ignore: ArrayLike | None = None, visibility: ArrayLike | None = None) -> None:
        self.frame: np.ndarray = np.asarray(frame, dtype=np.int64).reshape(-1)
        n = len(self.frame)
        self.id: np.ndarray = np.asarray(id, dtype=np.int64).reshape(-1)
        self.box: np.ndarray = np.asarray(box, dtype=np.float64).reshape(-1, 4)
        self.score: np.ndarray = np.ones(n) if score is None else np.asarray(score, dtype=np.float64).reshape(-1)
        self.label: np.ndarray = np.full(n, "", dtype=object) if label is None else np.asarray(label, dtype=object).reshape(-1)
        self.ignore: np.ndarray = np.zeros(n, dtype=bool) if ignore is None else np.asarray(ignore, dtype=bool).reshape(-1)
        self.visibility: np.ndarray = np.ones(n) if visibility is None else np.asarray(visibility, dtype=np.float64).reshape(-1)
        for name in self.COLUMNS[1:]:
            if len(getattr(self, name)) != n:
                raise ValueError(f"Tracks.{name} has {len(getattr(self, name))} rows, frame has {n}")
        if n and not np.all(np.isfinite(self.box)):
            raise ValueError("Tracks.box holds NaN or infinite coordinates")
        if n and np.any(self.box[:, 2:] < self.box[:, :2]):
            bad = int(np.flatnonzero(np.any(self.box[:, 2:] < self.box[:, :2], axis=1))[0])
            raise ValueError(f"box {self.box[bad].tolist()} of id {self.id[bad]} in frame {self.frame[bad]} has x2 < x1 or y2 < y1")
        if n:
            keys, counts = np.unique(np.stack([self.frame, self.id], axis=1), axis=0, return_counts=True)
            if counts.max() > 1:
                f, i = keys[int(np.argmax(counts))]
                raise ValueError(f"id {i} appears more than once in frame {f}")

    def __repr__(self) -> str:
        return f"Tracks({len(self)} boxes, {len(self.ids())} ids, frames {self.frame.min() if len(self) else '-'}..{self.frame.max() if len(self) else '-'})"

    @classmethod
    def empty(cls) -> Tracks:
        return cls(frame=np.zeros(0, dtype=np.int64), id=np.zeros(0, dtype=np.int64), box=np.zeros((0, 4)))

    @classmethod
    def concat(cls, parts: Sequence[Tracks]) -> Tracks:
        """The rows of every part, in order."""
        if not parts:
            return cls.empty()
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in cls.COLUMNS})

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, mask: np.ndarray) -> Tracks:
        """The rows where ``mask`` (booleans or indices) holds."""
        return Tracks(**{name: getattr(self, name)[mask] for name in self.COLUMNS})

    def ids(self) -> np.ndarray:
        return np.unique(self.id)

    def sorted(self) -> Tracks:
        """The rows ordered by frame, then id."""
        return self.select(np.lexsort((self.id, self.frame)))


# -- MOTChallenge text files --------------------------------------------------------------------


def read_mot(path: str | Path, *, groundtruth: bool = False, min_visibility: float = 0.0, distractors: Iterable[str | int] = ()) -> Tracks:
    """The boxes of a MOTChallenge text file (one ``frame,id,left,top,width,height,…`` per line,
    frames from 1; blank lines and lines starting with ``#`` are skipped).

    For ``groundtruth`` the 7th column is the flag (0: ignore the box), the 8th the class (read as
    its label, :data:`MOT_CLASSES`) and the 9th the visibility; boxes of a class in
    ``distractors`` (numbers or labels) or less visible than ``min_visibility`` are ignored too.
    For a result the 7th column is the score and the rest are not used. A malformed line is a
    ``ConfigError`` naming the file and the line."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("MOT file not found", where=str(p))
    ignored = {_class_label(d) for d in distractors}
    rows: list[list[float]] = []
    lines: list[int] = []
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a text file (expected MOTChallenge lines 'frame,id,left,top,width,height,...')", where=str(p)) from None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        rows.append(_mot_row(stripped, p, number))
        lines.append(number)
    width = 10
    table = np.array([r + [-1.0] * (width - len(r)) for r in rows], dtype=np.float64).reshape(-1, width)
    frame, ident, x, y, w, h, conf, klass, vis = (table[:, i] for i in range(9))
    labels = np.array([MOT_CLASSES.get(int(c), str(int(c))) if c >= 0 else "" for c in klass], dtype=object)
    if groundtruth:
        visibility = np.where(vis < 0, 1.0, vis)
        ignore = (conf == 0) | (visibility < min_visibility) | np.isin(labels, list(ignored))
        score = np.ones(len(frame))
    else:
        visibility, ignore, score = np.ones(len(frame)), np.zeros(len(frame), dtype=bool), conf
    try:
        return Tracks(frame=frame.astype(np.int64) - 1, id=ident.astype(np.int64), box=np.stack([x, y, x + w, y + h], axis=1),
                      score=score, label=labels, ignore=ignore, visibility=visibility)
    except ValueError as exc:
        if "more than once" in str(exc):
            keys = list(zip(frame.astype(int), ident.astype(int)))
            seen: dict[tuple[int, int], int] = {}
            for key, number in zip(keys, lines):
                if key in seen:
                    raise ConfigError(f"id {key[1]} appears twice in frame {key[0]} (also on line {seen[key]})", where=f"{p}:{number}") from None
                seen[key] = number
        raise ConfigError(str(exc), where=str(p)) from None


def _mot_row(line: str, path: Path, number: int) -> list[float]:
    parts = [s.strip() for s in line.split(",")]
    where = f"{path}:{number}"
    if len(parts) < 6 or len(parts) > 10:
        raise ConfigError(f"expected 6 to 10 comma-separated numbers (frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z), got {len(parts)}: "
                          f"'{line[:60]}'", where=where)
    try:
        values = [float(s) for s in parts]
    except ValueError:
        bad = next(s for s in parts if not _is_number(s))
        raise ConfigError(f"'{bad}' is not a number", where=where) from None
    if not all(math.isfinite(v) for v in values):
        raise ConfigError("NaN or infinite value", where=where)
    frame, ident, _, _, w, h = values[:6]
    if not frame.is_integer() or frame < 1:
        raise ConfigError(f"frame must be a whole number from 1, got {parts[0]}", where=where)
    if not ident.is_integer():
        raise ConfigError(f"id must be a whole number, got {parts[1]}", where=where)
    if w < 0 or h < 0:
        raise ConfigError(f"negative box size {parts[4]}x{parts[5]}", where=where)
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _class_label(value: str | int) -> str:
    return MOT_CLASSES.get(int(value), str(value)) if isinstance(value, int) or str(value).lstrip("-").isdigit() else str(value)


def _number(value: float) -> str:
    return np.format_float_positional(float(value), trim="-")


def write_mot(path: str | Path, tracks: Tracks, *, groundtruth: bool = False) -> Path:
    """Write ``tracks`` as a MOTChallenge text file, sorted by frame and id, frames from 1: a
    result (``…,score,-1,-1,-1``) or, for ``groundtruth``, ``…,flag,class,visibility`` with
    flag 0 for ignored boxes and the class number of the label (-1 when it has none). Numbers
    are written in their shortest exact form, so reading the file back gives the same boxes."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    t = tracks.sorted()
    out = []
    for i in range(len(t)):
        x1, y1, x2, y2 = t.box[i]
        head = f"{t.frame[i] + 1},{t.id[i]},{_number(x1)},{_number(y1)},{_number(x2 - x1)},{_number(y2 - y1)}"
        if groundtruth:
            label = str(t.label[i])
            klass = _CLASS_NUMBERS.get(label, int(label) if label.lstrip("-").isdigit() else -1)
            out.append(f"{head},{0 if t.ignore[i] else 1},{klass},{_number(t.visibility[i])}")
        else:
            out.append(f"{head},{_number(t.score[i])},-1,-1,-1")
    p.write_text("".join(line + "\n" for line in out), encoding="utf-8")
    return p


# -- metrics ------------------------------------------------------------------------------------


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
