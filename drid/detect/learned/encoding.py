"""Between boxes and the network's heads, in numpy: letterboxing, training targets, decoding.

Target layout (``encode``), ``H/8 × W/8 × (C + 5)``: ``C`` heat-maps with an elliptic Gaussian
around each object's centre cell (exactly 1 at that cell), the four box channels of
``model`` at the centre cells (offset of the centre inside its cell; log width and height in
cells), and a mask that is 1 at the centre cells. ``decode`` reads the network's output (or a
target) back: local maxima of the heat-maps, their offsets and sizes. ``decode(encode(boxes))``
gives the boxes back to float precision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from drid.detect.learned.model import STRIDE

__all__ = ["FILL", "Letterbox", "decode", "encode", "gaussian_sigma", "letterbox"]

#: Grey of the letterbox border (the value YOLO-style detectors pad with).
FILL = 114
#: A Gaussian's standard deviation per cell of box size (TTFNet's 0.54 / 6), at least MIN_SIGMA cells.
SIGMA_PER_CELL = 0.09
MIN_SIGMA = 0.5


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the input: ``input = image × scale + (dx, dy)``."""

    scale: float
    dx: float
    dy: float

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        return b * self.scale + np.array([self.dx, self.dy, self.dx, self.dy], np.float32)

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        return (b - np.array([self.dx, self.dy, self.dx, self.dy], np.float32)) / self.scale


def fit_size(width: int, height: int, input_size: tuple[int, int]) -> tuple[float, int, int]:
    """The scale that fits ``width × height`` into ``input_size`` keeping its aspect, and the fitted size."""
    w_in, h_in = input_size
    scale = min(w_in / width, h_in / height)
    return scale, max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def letterbox(image: np.ndarray, input_size: tuple[int, int], fill: int = FILL) -> tuple[np.ndarray, Letterbox]:
    """``image`` resized to fit ``input_size`` ``(w, h)`` with its aspect kept, centred on a
    ``fill`` border; and the mapping of its pixels into the input."""
    w_in, h_in = input_size
    h, w = image.shape[:2]
    scale, nw, nh = fit_size(w, h, input_size)
    resized = image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    dx, dy = (w_in - nw) // 2, (h_in - nh) // 2
    out = np.full((h_in, w_in, 3), fill, np.uint8)
    out[dy:dy + nh, dx:dx + nw] = resized
    return out, Letterbox(scale=nw / w, dx=float(dx), dy=float(dy))


def gaussian_sigma(w_cells: np.ndarray, h_cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The heat-map Gaussian's standard deviations (in cells) for boxes of these sizes."""
    return np.maximum(MIN_SIGMA, SIGMA_PER_CELL * np.asarray(w_cells)), np.maximum(MIN_SIGMA, SIGMA_PER_CELL * np.asarray(h_cells))


def encode(boxes: np.ndarray | Sequence[Sequence[float]], classes: np.ndarray | Sequence[int], n_classes: int, input_size: tuple[int, int], stride: int = STRIDE) -> np.ndarray:
    """Training targets for ``boxes`` (``K×4`` xyxy in input pixels) of class ``classes`` (``K``).

    Boxes whose centre falls outside the input are skipped. When two centres share a cell, the
    smaller box keeps it (it has fewer other cells to be found at)."""
    w_in, h_in = input_size
    gw, gh = w_in // stride, h_in // stride
    target = np.zeros((gh, gw, n_classes + 5), np.float32)
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    c = np.asarray(classes, dtype=np.int64).reshape(-1)
    if len(b) == 0:
        return target
    w = np.maximum(b[:, 2] - b[:, 0], 1e-3) / stride
    h = np.maximum(b[:, 3] - b[:, 1], 1e-3) / stride
    cx = (b[:, 0] + b[:, 2]) / 2 / stride
    cy = (b[:, 1] + b[:, 3]) / 2 / stride
    inside = (cx >= 0) & (cx < gw) & (cy >= 0) & (cy < gh) & (c >= 0) & (c < n_classes)
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float64)
    sx, sy = gaussian_sigma(w, h)
    for k in np.argsort(-(w * h), kind="stable"):  # large first: a smaller box overwrites a shared cell
        if not inside[k]:
            continue
        ix, iy = int(cx[k]), int(cy[k])
        g = np.exp(-((xs - ix) ** 2) / (2 * sx[k] ** 2) - ((ys - iy) ** 2) / (2 * sy[k] ** 2))
        heat = target[:, :, c[k]]
        np.maximum(heat, g.astype(np.float32), out=heat)
        target[iy, ix, :n_classes] = np.where(np.arange(n_classes) == c[k], 1.0, target[iy, ix, :n_classes])
        target[iy, ix, n_classes:n_classes + 4] = (cx[k] - ix, cy[k] - iy, np.log(w[k]), np.log(h[k]))
        target[iy, ix, n_classes + 4] = 1.0
    return target


def decode(heads: np.ndarray, n_classes: int, *, stride: int = STRIDE, min_score: float = 0.05, top_k: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (``K×4`` xyxy in input pixels, float32), scores and class ids from one image's
    heads (``H/8 × W/8 × (C + 4…)``): every cell whose heat is the maximum of its 3×3
    neighbourhood and at least ``min_score``, the ``top_k`` best."""
    heat = np.ascontiguousarray(heads[:, :, :n_classes], dtype=np.float32)
    # 3×3 max filter per class (cv2.dilate handles any channel count; the border never wins)
    pooled = cv2.dilate(heat, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0.0)
    pooled = pooled.reshape(heat.shape)
    peak = (heat >= pooled) & (heat >= min_score)
    iy, ix, cls = np.nonzero(peak)
    scores = heat[iy, ix, cls]
    if len(scores) > top_k:
        keep = np.argsort(-scores, kind="stable")[:top_k]
        iy, ix, cls, scores = iy[keep], ix[keep], cls[keep], scores[keep]
    reg = heads[iy, ix, n_classes:n_classes + 4].astype(np.float64)
    cx = (ix + reg[:, 0]) * stride
    cy = (iy + reg[:, 1]) * stride
    w = np.exp(np.clip(reg[:, 2], -8, 8)) * stride
    h = np.exp(np.clip(reg[:, 3], -8, 8)) * stride
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32).reshape(-1, 4)
    return boxes, scores.astype(np.float32), cls.astype(np.int64)
