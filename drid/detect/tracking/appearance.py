"""Appearance cues for re-identifying a track: a colour histogram of the box, or an embedding a
detector put in ``Detection.meta["embedding"]``.

A histogram is the joint hue-saturation histogram of the central part of the box (16×4 bins,
weighted towards saturated pixels by construction of HSV) plus an 8-bin brightness histogram for
grey and dark objects, whose hue is meaningless. Square roots of the normalised bins, scaled to
unit length, make the dot product of two features their Bhattacharyya coefficient, so
``1 - dot`` is a distance in [0, 1] that compares like the cosine distance of embeddings.

The recognize stage runs after detect, so a recognizer's outputs cannot reach a tracker that wraps
the detect stage; an embedding is used only when the detector itself provides one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["HISTOGRAM_DIM", "embedding_features", "histogram_features", "unit_rows"]

_H_BINS, _S_BINS, _V_BINS = 16, 4, 8
HISTOGRAM_DIM = _H_BINS * _S_BINS + _V_BINS
_INNER = 0.15  # share of the width and height left out on each side: mostly background there


def unit_rows(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def histogram_features(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``len(boxes)×HISTOGRAM_DIM`` unit features of the xyxy ``boxes`` in a BGR ``image``
    (zeros for a box with no pixels inside the image)."""
    import cv2

    out = np.zeros((len(boxes), HISTOGRAM_DIM), dtype=np.float32)
    if len(boxes) == 0:
        return out
    height, width = image.shape[:2]
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, dtype=np.float64)):
        dx, dy = (x2 - x1) * _INNER, (y2 - y1) * _INNER
        a, b = int(max(0, np.floor(x1 + dx))), int(min(width, np.ceil(x2 - dx)))
        c, d = int(max(0, np.floor(y1 + dy))), int(min(height, np.ceil(y2 - dy)))
        if b - a < 2 or d - c < 2:
            continue
        hsv = cv2.cvtColor(np.ascontiguousarray(image[c:d, a:b]), cv2.COLOR_BGR2HSV)
        hs = cv2.calcHist([hsv], [0, 1], None, [_H_BINS, _S_BINS], [0, 180, 0, 256]).ravel()
        v = cv2.calcHist([hsv], [2], None, [_V_BINS], [0, 256]).ravel()
        feature = np.concatenate([hs / max(hs.sum(), 1.0), v / max(v.sum(), 1.0)])
        out[i] = np.sqrt(feature)
    return unit_rows(out)


def embedding_features(metas: Sequence[dict[str, Any]]) -> np.ndarray | None:
    """Unit rows of the detections' ``meta["embedding"]`` vectors, or ``None`` when any is
    missing; ``ValueError`` when their lengths differ."""
    vectors = [m.get("embedding") for m in metas]
    if not vectors or any(v is None for v in vectors):
        return None
    lengths = {len(v) for v in vectors}  # type: ignore[arg-type]
    if len(lengths) > 1:
        raise ValueError(f"detections carry embeddings of different lengths {sorted(lengths)} in meta['embedding']")
    return unit_rows(np.asarray(vectors, dtype=np.float32))
