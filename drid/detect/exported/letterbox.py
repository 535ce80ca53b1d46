"""Fitting a frame to a detector's input and mapping its boxes back.

``letterbox`` keeps the aspect ratio and pads the rest with grey 114 (YOLO's convention, also
drid's own detector's): the frame is resized by ``r = min(W / w, H / h)`` with bilinear
interpolation to ``round(w * r) × round(h * r)`` and centred, the padding split evenly (the odd
pixel on the right or bottom). ``stretch`` resizes to ``W × H`` regardless of aspect (the TensorFlow
Object Detection API's fixed-shape resizer, what SSD-MobileNet and EfficientDet-Lite expect).
Either returns a :class:`Fit` whose :meth:`Fit.to_frame` maps input-pixel boxes to frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["PAD_VALUE", "Fit", "fit", "letterbox", "stretch"]

#: Grey of the padding (YOLO's 114).
PAD_VALUE = 114


@dataclass(frozen=True)
class Fit:
    """How a ``frame_size`` frame was put into the input: scaled by ``scale`` (x, y), shifted by
    ``offset`` (x, y) pixels."""

    frame_size: tuple[int, int]
    scale: tuple[float, float]
    offset: tuple[int, int]

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """``N×4`` xyxy boxes in input pixels → frame pixels, clipped to the frame."""
        out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.offset[0]) / self.scale[0]
        out[:, [1, 3]] = (out[:, [1, 3]] - self.offset[1]) / self.scale[1]
        w, h = self.frame_size
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
        return out

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """``N×4`` xyxy boxes in frame pixels → input pixels (the inverse of :meth:`to_frame`)."""
        out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale[0] + self.offset[0]
        out[:, [1, 3]] = out[:, [1, 3]] * self.scale[1] + self.offset[1]
        return out


def letterbox(image: np.ndarray, size: tuple[int, int], pad_value: int = PAD_VALUE) -> tuple[np.ndarray, Fit]:
    """``image`` resized into ``size`` (width, height) keeping its aspect ratio, centred on grey."""
    height, width = image.shape[:2]
    target_w, target_h = size
    r = min(target_w / width, target_h / height)
    new_w, new_h = max(1, round(width * r)), max(1, round(height * r))
    left, top = (target_w - new_w) // 2, (target_h - new_h) // 2
    out = np.full((target_h, target_w, image.shape[2]), pad_value, dtype=image.dtype)
    resized = image if (new_w, new_h) == (width, height) else cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    out[top:top + new_h, left:left + new_w] = resized
    return out, Fit((width, height), (new_w / width, new_h / height), (left, top))


def stretch(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Fit]:
    """``image`` resized to exactly ``size`` (width, height)."""
    height, width = image.shape[:2]
    target_w, target_h = size
    out = image if (target_w, target_h) == (width, height) else cv2.resize(image, (target_w, target_h), interpolation=cv2.INTER_LINEAR)
    return out, Fit((width, height), (target_w / width, target_h / height), (0, 0))


def fit(image: np.ndarray, size: tuple[int, int], keep_aspect: bool) -> tuple[np.ndarray, Fit]:
    """:func:`letterbox` or :func:`stretch`."""
    return letterbox(image, size) if keep_aspect else stretch(image, size)
