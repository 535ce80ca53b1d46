"""Spatial relations between the boxes of one frame, computed in one vectorised numpy pass.

Definitions (``a`` is the subject, ``b`` the object; ``S`` is the pair's size scale, the mean of
the square roots of the two box areas, at least one pixel; ``gap`` is the edge-to-edge distance
between the boxes, 0 when they touch or overlap):

``near``
    ``gap <= near·S``; confidence ``1 - gap / (2·near·S)`` (1 when touching, 0.5 at the limit).
``next_to``
    side by side: the boxes do not overlap (overlap coefficient below ``overlap``), their vertical
    extents share at least half of the smaller height, and the horizontal gap is at most
    ``next_to·S``; confidence = shared height fraction × ``(1 - gap_x / (2·next_to·S))``.
``overlaps``
    intersection / smaller area (the overlap coefficient) ``>= overlap``; confidence = that ratio.
``inside`` / ``contains``
    ``a`` inside ``b`` when at least ``inside`` of ``a``'s area lies in ``b`` and ``a`` is the smaller
    box; ``contains`` is the inverse; confidence = the covered fraction of ``a``.
``left_of`` / ``right_of`` / ``above`` / ``below``
    ``a`` left of ``b`` when ``a``'s centre is left of ``b``'s and ``a``'s right edge reaches at most
    ``tolerance`` × the narrower width into ``b``; confidence ``|dx| / (|dx| + |dy|)`` of the
    centre offset (1 straight beside, 0.5 on the diagonal). ``above``/``below`` likewise on y
    (image y grows downwards, so ``above`` means higher in the picture). Directional relations are
    only emitted for pairs whose gap is at most ``range·S`` (``range: null`` for every pair): a
    scene of 200 objects would otherwise carry 80,000 of them.

The symmetric predicates (``near``, ``next_to``, ``overlaps``) are emitted once per pair, with the
earlier object (in input order) as subject; the condition language of ``drid.interpret.conditions``
matches them either way round. Relations come sorted by (subject index, object index, predicate
order of ``PREDICATES``). Boxes of zero area take part in ``near`` and the directional relations
only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from drid.errors import close_matches
from drid.schemas import Relation

__all__ = [
    "PREDICATES",
    "SYMMETRIC",
    "INVERSE",
    "RelationArrays",
    "SpatialParams",
    "spatial_relations",
    "spatial_relations_naive",
    "to_relations",
]

#: Every spatial predicate, in output order.
PREDICATES = ("left_of", "right_of", "above", "below", "near", "next_to", "overlaps", "inside", "contains")
#: Predicates that hold both ways round (emitted once per pair).
SYMMETRIC = frozenset({"near", "next_to", "overlaps"})
#: ``a p b`` ⇔ ``b INVERSE[p] a`` (temporal predicates have no inverse).
INVERSE = {"left_of": "right_of", "right_of": "left_of", "above": "below", "below": "above", "inside": "contains", "contains": "inside"}

_ORDER = {p: i for i, p in enumerate(PREDICATES)}


class SpatialParams(BaseModel):
    """Thresholds of the spatial relations (all relative to object size, so they hold at any
    distance from the camera)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    predicates: tuple[str, ...] = Field(default=PREDICATES, description=f"which relations to compute, from {', '.join(PREDICATES)}")
    near: float = Field(default=1.0, gt=0, description="'near' when the gap between boxes is at most this many object sizes")
    next_to: float = Field(default=0.5, gt=0, description="'next_to' when the horizontal gap is at most this many object sizes")
    overlap: float = Field(default=0.1, gt=0, le=1, description="'overlaps' when intersection / smaller area reaches this")
    inside: float = Field(default=0.9, gt=0, le=1, description="'inside' when this fraction of the smaller box lies in the larger")
    tolerance: float = Field(default=0.25, ge=0, description="left_of/above: how far (× the narrower size) a box may reach into the other")
    range: float | None = Field(default=3.0, gt=0, description="directional relations only for pairs within this many object sizes (null: all pairs)")
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="drop relations less sure than this")

    @field_validator("predicates", mode="before")
    @classmethod
    def _known(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return value  # not a list: the field's own type check says so
        for p in value:
            if p not in _ORDER:
                raise ValueError(f"unknown spatial predicate '{p}'{close_matches(str(p), PREDICATES) or ' (known: ' + ', '.join(PREDICATES) + ')'}")
        return tuple(value)


#: The default thresholds (a frozen model, shared).
_DEFAULT = SpatialParams()

# A relation before it becomes a message: (subject index, predicate, object index, confidence).
Raw = tuple[int, str, int, float]


class RelationArrays(NamedTuple):
    """Relations as parallel arrays: subject index, predicate index (into ``PREDICATES``),
    object index, confidence; sorted by subject, object, predicate."""

    subject: np.ndarray
    predicate: np.ndarray
    object: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return len(self.subject)

    def tuples(self) -> list[Raw]:
        names = PREDICATES
        return [(a, names[p], b, c) for a, p, b, c in zip(self.subject.tolist(), self.predicate.tolist(), self.object.tolist(), self.confidence.tolist())]


_EMPTY = RelationArrays(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))


def spatial_relations(boxes: np.ndarray, params: SpatialParams = _DEFAULT) -> RelationArrays:
    """The spatial relations among ``boxes`` (an ``N×4`` xyxy array), by box index, sorted.

    One numpy pass: the pairwise gaps select the candidate pairs (no predicate holds beyond the
    largest distance limit), then every predicate is evaluated on those pairs at once."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    n = len(b)
    if n < 2:
        return _EMPTY
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    w, h = x2 - x1, y2 - y1
    area = w * h
    root = np.sqrt(area)

    # Candidate pairs: every predicate needs the gap within some multiple of the size scale.
    gx_all = np.maximum(np.maximum(x1[None, :] - x2[:, None], x1[:, None] - x2[None, :]), 0.0)
    gy_all = np.maximum(np.maximum(y1[None, :] - y2[:, None], y1[:, None] - y2[None, :]), 0.0)
    scale_all = np.maximum((root[:, None] + root[None, :]) * 0.5, 1.0)
    if params.range is None:
        cand = ~np.eye(n, dtype=bool)
    else:
        reach = max(params.near, params.next_to, params.range)
        cand = (gx_all * gx_all + gy_all * gy_all) <= (reach * scale_all) ** 2
        np.fill_diagonal(cand, False)
    i, j = np.nonzero(cand)
    if not len(i):
        return _EMPTY
    gx, gy, scale = gx_all[i, j], gy_all[i, j], scale_all[i, j]
    gap = np.hypot(gx, gy)
    ax1, ay1, ax2, ay2, bx1, by1, bx2, by2 = x1[i], y1[i], x2[i], y2[i], x1[j], y1[j], x2[j], y2[j]
    oy = np.minimum(ay2, by2) - np.maximum(ay1, by1)
    ox = np.minimum(ax2, bx2) - np.maximum(ax1, bx1)
    inter = np.maximum(ox, 0.0) * np.maximum(oy, 0.0)
    a_area, b_area = area[i], area[j]
    min_area = np.minimum(a_area, b_area)
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.where(min_area > 0, inter / min_area, 0.0)
        covered = np.where(a_area > 0, inter / a_area, 0.0)
        rev_covered = np.where(b_area > 0, inter / b_area, 0.0)

    wanted = params.predicates
    k = len(PREDICATES)
    masks = np.zeros((len(i), k), dtype=bool)
    confs = np.zeros((len(i), k), dtype=np.float64)

    def put(name: str, mask: np.ndarray, conf: np.ndarray) -> None:
        if name in wanted:
            col = _ORDER[name]
            masks[:, col] = mask
            confs[:, col] = conf

    if {"left_of", "right_of", "above", "below"} & set(wanted):
        dx = (bx1 + bx2 - ax1 - ax2) * 0.5
        dy = (by1 + by2 - ay1 - ay2) * 0.5
        total = np.abs(dx) + np.abs(dy)
        with np.errstate(divide="ignore", invalid="ignore"):
            hconf = np.where(total > 0, np.abs(dx) / total, 0.0)
        vconf = 1.0 - hconf
        in_range = np.ones(len(i), dtype=bool) if params.range is None else gap <= params.range * scale
        wmin = np.minimum(w[i], w[j]) * params.tolerance
        hmin = np.minimum(h[i], h[j]) * params.tolerance
        put("left_of", in_range & (dx > 0) & (ax2 <= bx1 + wmin), hconf)
        put("right_of", in_range & (dx < 0) & (bx2 <= ax1 + wmin), hconf)
        put("above", in_range & (dy > 0) & (ay2 <= by1 + hmin), vconf)
        put("below", in_range & (dy < 0) & (by2 <= ay1 + hmin), vconf)
    first = i < j
    limit = params.near * scale
    put("near", first & (gap <= limit), 1.0 - gap / (2 * limit))
    overlapping = coef >= params.overlap
    if "next_to" in wanted:
        min_h = np.minimum(h[i], h[j])
        with np.errstate(divide="ignore", invalid="ignore"):
            shared = np.where(min_h > 0, np.maximum(oy, 0.0) / min_h, 0.0)
        side_limit = params.next_to * scale
        put("next_to", first & ~overlapping & (shared >= 0.5) & (gx <= side_limit), np.minimum(shared, 1.0) * (1.0 - gx / (2 * side_limit)))
    touching = inter > 0
    put("overlaps", first & overlapping & touching, coef)
    put("inside", touching & (covered >= params.inside) & (a_area < b_area), covered)
    put("contains", touching & (rev_covered >= params.inside) & (b_area < a_area), rev_covered)
    if params.min_confidence > 0:
        masks &= confs >= params.min_confidence
    pair, pred = np.nonzero(masks)  # row-major: sorted by (i, j), then predicate
    return RelationArrays(i[pair], pred, j[pair], confs[pair, pred])


def spatial_relations_naive(boxes: Sequence[Sequence[float]], params: SpatialParams = _DEFAULT) -> list[Raw]:
    """The same relations as :func:`spatial_relations`, by a plain Python loop over every pair:
    the reference the vectorised pass is tested and benchmarked against."""
    out: list[Raw] = []
    wanted = set(params.predicates)
    n = len(boxes)
    for i in range(n):
        ax1, ay1, ax2, ay2 = (float(v) for v in boxes[i])
        for j in range(n):
            if i == j:
                continue
            bx1, by1, bx2, by2 = (float(v) for v in boxes[j])
            aw, ah, bw, bh = ax2 - ax1, ay2 - ay1, bx2 - bx1, by2 - by1
            a_area, b_area = aw * ah, bw * bh
            scale = max((math.sqrt(a_area) + math.sqrt(b_area)) / 2, 1.0)
            ox = min(ax2, bx2) - max(ax1, bx1)
            oy = min(ay2, by2) - max(ay1, by1)
            gx, gy = max(-ox, 0.0), max(-oy, 0.0)
            gap = math.hypot(gx, gy)
            inter = max(ox, 0.0) * max(oy, 0.0)
            min_area = min(a_area, b_area)
            coef = inter / min_area if min_area > 0 else 0.0
            covered = inter / a_area if a_area > 0 else 0.0
            rev_covered = inter / b_area if b_area > 0 else 0.0
            dx = (bx1 + bx2) / 2 - (ax1 + ax2) / 2
            dy = (by1 + by2) / 2 - (ay1 + ay2) / 2
            total = abs(dx) + abs(dy)
            hconf = abs(dx) / total if total > 0 else 0.0
            vconf = 1.0 - hconf
            in_range = params.range is None or gap <= params.range * scale
            found: list[tuple[str, float]] = []
            if in_range:
                if dx > 0 and ax2 <= bx1 + params.tolerance * min(aw, bw):
                    found.append(("left_of", hconf))
                if dx < 0 and bx2 <= ax1 + params.tolerance * min(aw, bw):
                    found.append(("right_of", hconf))
                if dy > 0 and ay2 <= by1 + params.tolerance * min(ah, bh):
                    found.append(("above", vconf))
                if dy < 0 and by2 <= ay1 + params.tolerance * min(ah, bh):
                    found.append(("below", vconf))
            overlapping = coef >= params.overlap
            if i < j:
                limit = params.near * scale
                if gap <= limit:
                    found.append(("near", 1.0 - gap / (2 * limit)))
                min_h = min(ah, bh)
                shared = max(oy, 0.0) / min_h if min_h > 0 else 0.0
                side_limit = params.next_to * scale
                if not overlapping and shared >= 0.5 and gx <= side_limit:
                    found.append(("next_to", min(shared, 1.0) * (1.0 - gx / (2 * side_limit))))
                if overlapping and inter > 0:
                    found.append(("overlaps", coef))
            if inter > 0 and covered >= params.inside and a_area < b_area:
                found.append(("inside", covered))
            if inter > 0 and rev_covered >= params.inside and b_area < a_area:
                found.append(("contains", rev_covered))
            for name, conf in found:
                if name in wanted and conf >= params.min_confidence:
                    out.append((i, name, j, conf))
    out.sort(key=lambda r: (r[0], r[2], _ORDER[r[1]]))
    return out


def to_relations(found: RelationArrays | list[Raw], ids: Sequence[int]) -> list[Relation]:
    """Relations by box index as ``Relation`` messages between the objects ``ids[i]``."""
    raw = found.tuples() if isinstance(found, RelationArrays) else found
    return [Relation(subject=ids[i], predicate=p, object=ids[j], confidence=min(max(c, 0.0), 1.0)) for i, p, j, c in raw]
