"""Box utilities the detectors share: non-maximum suppression, merging nearby boxes, and finding
at a scale (a detector may work on a resized image; its boxes come back in frame pixels)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from drid.schemas import BoundingBox, Frame, iou_matrix

__all__ = ["absorb_nested", "frame_box", "join_stacked", "merge_boxes", "nms", "not_nested", "scaled"]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices of the boxes kept by greedy non-maximum suppression (best score first).

    ``boxes`` is ``N×4`` xyxy; a box is dropped when its IoU with a kept, better box exceeds
    ``iou_threshold``."""
    if len(boxes) == 0:
        return []
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    iou = iou_matrix(boxes, boxes)
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= iou[i] > iou_threshold
    return keep


def merge_boxes(boxes: list[tuple[int, int, int, int]], gap: float) -> list[tuple[int, int, int, int]]:
    """Join xyxy boxes that overlap or lie within ``gap`` pixels of each other, until none do."""
    merged = [list(b) for b in boxes]
    changed = True
    while changed:
        changed = False
        i = 0
        while i < len(merged):
            a = merged[i]
            j = i + 1
            while j < len(merged):
                b = merged[j]
                if a[0] - gap <= b[2] and b[0] - gap <= a[2] and a[1] - gap <= b[3] and b[1] - gap <= a[3]:
                    a[:] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del merged[j]
                    changed = True
                else:
                    j += 1
            i += 1
    return [(a[0], a[1], a[2], a[3]) for a in merged]


def _area_first(b: list[int]) -> int:
    return -(b[2] - b[0]) * (b[3] - b[1])


def _join_while(
    boxes: list[tuple[int, int, int, int]],
    joins: Callable[[list[int], list[int]], bool],
    order: Callable[[list[int]], int] | None = None,
) -> list[tuple[int, int, int, int]]:
    """Replace two xyxy boxes by their union while ``joins(a, b)`` holds for a pair, ``a`` before
    ``b`` in the list (kept sorted by ``order`` when given), until no pair joins."""
    merged = [list(b) for b in boxes]
    if order is not None:
        merged.sort(key=order)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            a = merged[i]
            for j in range(len(merged) - 1, i, -1):
                b = merged[j]
                if joins(a, b):
                    a[:] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del merged[j]
                    changed = True
            if changed:
                if order is not None:
                    merged.sort(key=order)
                break
    return [(a[0], a[1], a[2], a[3]) for a in merged]


def absorb_nested(boxes: list[tuple[int, int, int, int]], fraction: float) -> list[tuple[int, int, int, int]]:
    """Merge every xyxy box that lies mostly on a larger one into it, until none does.

    A box is absorbed when at least ``fraction`` of its own area lies inside a larger box: a
    blob nested in another (a window of a car whose body moved as a ring around it) or riding
    on its edge. The larger box grows to the union of both; boxes that only touch stay apart.
    ``fraction`` > 1 absorbs nothing. Largest boxes first, so the result does not depend on the
    input order (ties aside)."""

    def nested(a: list[int], b: list[int]) -> bool:
        iw = min(a[2], b[2]) - max(a[0], b[0])
        ih = min(a[3], b[3]) - max(a[1], b[1])
        return iw > 0 and ih > 0 and iw * ih >= fraction * (b[2] - b[0]) * (b[3] - b[1])

    return _join_while(boxes, nested, order=_area_first)


def not_nested(boxes: np.ndarray, fraction: float = 0.5) -> list[int]:
    """Indices (in input order) of the ``N×4`` xyxy boxes that do not lie mostly inside a larger
    one: a box with at least ``fraction`` of its area inside a larger box is dropped.

    For detectors that fire on a part of an object besides the whole (HOG on a person's torso
    or legs next to the full body): non-maximum suppression keeps such a box, since its IoU with
    the whole is small."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    area = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    iw = np.maximum(np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]), 0)
    ih = np.maximum(np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1]), 0)
    inside = iw * ih >= fraction * np.maximum(area[:, None], 1e-9)  # [i, j]: i mostly inside j
    larger = area[None, :] > area[:, None]
    return [i for i in range(len(b)) if not np.any(inside[i] & larger[i])]


def join_stacked(boxes: list[tuple[int, int, int, int]], gap: float, overlap: float = 0.5) -> list[tuple[int, int, int, int]]:
    """Join xyxy boxes stacked one above the other, until none are: the parts of one upright
    object (a head, a torso and legs that background subtraction cut apart).

    Two boxes are stacked when at least ``overlap`` of the narrower one's width lies within the
    other's columns and the vertical gap between them is at most ``gap`` × the taller one's
    height (overlapping rows count as no gap). Side-by-side boxes never join."""

    def stacked(a: list[int], b: list[int]) -> bool:
        shared = min(a[2], b[2]) - max(a[0], b[0])
        narrow = min(a[2] - a[0], b[2] - b[0])
        between = max(a[1], b[1]) - min(a[3], b[3])
        return narrow > 0 and shared >= overlap * narrow and between <= gap * max(a[3] - a[1], b[3] - b[1])

    return _join_while(boxes, stacked)


def scaled(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` resized by ``factor`` (area averaging to shrink, bilinear to enlarge)."""
    if factor == 1.0:
        return image
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=interpolation)


def frame_box(x: float, y: float, w: float, h: float, factor: float, frame: Frame) -> BoundingBox:
    """An ``x, y, w, h`` rectangle found at ``factor`` × the frame's size, in frame pixels, clipped."""
    return BoundingBox.from_xywh(x / factor, y / factor, w / factor, h / factor).clip(frame.width, frame.height)
