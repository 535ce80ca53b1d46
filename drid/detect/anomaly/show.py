"""Pictures of an anomaly model's outcome: an image beside its heat map, the true defect outlined
in green and the thresholded regions in red; and a grid of such pictures."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from drid.detect.anomaly.model import normalize

__all__ = ["grid", "heat_overlay", "outcome_image"]


def _bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()


def heat_overlay(image: np.ndarray, score: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """``image`` with a normalised map (``[0, 1)``, 0.5 at the threshold) blended through the JET
    colour map, each pixel weighted by its score (as the annotated sinks draw ``Detection.mask``)."""
    out = _bgr(image).astype(np.float32)
    s = cv2.resize(score.astype(np.float32), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap(np.clip(s * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET).astype(np.float32)
    w = (alpha * np.clip(s, 0, 1))[..., None]
    return np.round(out * (1 - w) + heat * w).astype(np.uint8)


def outcome_image(image: np.ndarray, raw: np.ndarray, mask: np.ndarray | None, threshold: float | None) -> np.ndarray:
    """The image with the true defect outlined (green), beside the heat map with the regions at
    or above ``threshold`` outlined (red). ``raw`` is the model's map (any resolution)."""
    h, w = image.shape[:2]
    raw = cv2.resize(raw.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    thr = float(threshold) if threshold is not None else float(np.quantile(raw, 0.99))
    score = normalize(raw, thr)
    left, right = _bgr(image), heat_overlay(image, score)
    if mask is not None and mask.any():
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(left, contours, -1, (0, 200, 0), 1)
        cv2.drawContours(right, contours, -1, (0, 200, 0), 1)
    hot, _ = cv2.findContours((score >= 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(right, hot, -1, (0, 0, 255), 1)
    return np.hstack([left, np.full((h, 2, 3), 255, np.uint8), right])


def grid(tiles: Sequence[np.ndarray], columns: int, captions: Sequence[str] = (), gap: int = 4) -> np.ndarray:
    """Tiles of one size in rows of ``columns``, each with its caption above it."""
    th, tw = tiles[0].shape[:2]
    cap = 16 if captions else 0
    rows = -(-len(tiles) // columns)
    canvas = np.full((rows * (th + cap + gap) + gap, columns * (tw + gap) + gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = gap + r * (th + cap + gap), gap + c * (tw + gap)
        if captions:
            cv2.putText(canvas, captions[i], (x, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        canvas[y + cap:y + cap + th, x:x + tw] = _bgr(tile)
    return canvas
