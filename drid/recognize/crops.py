"""Crops as a classifier sees them: the pixels of a box (grown by padding, widened to an aspect
ratio with the image around it), fitted to the model's input size, in the model's colour layout.
The ``keras-classifier`` plugin, ``drid train classifier`` and the ``harvest`` sink all cut crops
here, so a model is trained on the crops it will be shown."""

from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np

from drid.schemas import BoundingBox

__all__ = ["Aspect", "crop_box", "fit_to_size", "to_model_pixels"]

#: How a crop is fitted to the model's aspect ratio.
Aspect = Literal["expand", "letterbox", "stretch"]


def crop_box(
    image: np.ndarray,
    box: BoundingBox,
    *,
    padding: float = 0.0,
    aspect: float | None = None,
) -> np.ndarray:
    """The pixels of ``box`` grown by ``padding`` (a fraction of its width and height on every
    side); with ``aspect`` (width / height), the shorter side is grown further, using the image
    around the box, until the crop has that aspect ratio. Parts that fall outside the image are
    filled by repeating its edge pixels. Never empty: a degenerate box gives at least 1×1."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box.x1, box.y1, box.x2, box.y2
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    bw, bh = bw * (1 + 2 * padding), bh * (1 + 2 * padding)
    if aspect is not None and aspect > 0:
        if bw / bh < aspect:
            bw = bh * aspect
        else:
            bh = bw / aspect
    iw, ih = max(int(math.floor(bw + 0.5)), 1), max(int(math.floor(bh + 0.5)), 1)
    ix1, iy1 = int(math.floor(cx - iw / 2 + 0.5)), int(math.floor(cy - ih / 2 + 0.5))
    ix2, iy2 = ix1 + iw, iy1 + ih
    cx1, cy1, cx2, cy2 = max(ix1, 0), max(iy1, 0), min(ix2, w), min(iy2, h)
    if cx2 <= cx1 or cy2 <= cy1:  # entirely outside the image: nearest edge pixel, stretched
        cx1, cy1 = min(max(ix1, 0), w - 1), min(max(iy1, 0), h - 1)
        cx2, cy2 = cx1 + 1, cy1 + 1
    crop = image[cy1:cy2, cx1:cx2]
    top, left = cy1 - iy1, cx1 - ix1
    bottom, right = iy2 - cy2, ix2 - cx2
    if top > 0 or left > 0 or bottom > 0 or right > 0:
        crop = cv2.copyMakeBorder(crop, max(top, 0), max(bottom, 0), max(left, 0), max(right, 0), cv2.BORDER_REPLICATE)
    return crop


def fit_to_size(crop: np.ndarray, width: int, height: int, aspect: Aspect = "expand") -> np.ndarray:
    """``crop`` resized to ``width`` × ``height``. ``stretch`` ignores its aspect ratio;
    ``letterbox`` keeps it and fills the rest with the crop's mean border colour; ``expand``
    (for crops already cut at the right aspect by :func:`crop_box`) keeps it and repeats the
    edge pixels. Area interpolation when shrinking, linear when enlarging."""
    ch, cw = crop.shape[:2]
    if aspect != "stretch" and cw * height != ch * width:
        target = width / height
        if cw / ch < target:
            new_w, new_h = int(round(ch * target)), ch
        else:
            new_w, new_h = cw, int(round(cw / target))
        dx, dy = new_w - cw, new_h - ch
        left, top = dx // 2, dy // 2
        if aspect == "letterbox":
            border = np.concatenate([crop[0].reshape(-1, crop.shape[2] if crop.ndim == 3 else 1),
                                     crop[-1].reshape(-1, crop.shape[2] if crop.ndim == 3 else 1),
                                     crop[:, 0].reshape(-1, crop.shape[2] if crop.ndim == 3 else 1),
                                     crop[:, -1].reshape(-1, crop.shape[2] if crop.ndim == 3 else 1)])
            value = [float(v) for v in border.mean(axis=0)]
            crop = cv2.copyMakeBorder(crop, top, dy - top, left, dx - left, cv2.BORDER_CONSTANT, value=value)
        else:
            crop = cv2.copyMakeBorder(crop, top, dy - top, left, dx - left, cv2.BORDER_REPLICATE)
        ch, cw = crop.shape[:2]
    interpolation = cv2.INTER_AREA if (cw > width or ch > height) else cv2.INTER_LINEAR
    return cv2.resize(crop, (width, height), interpolation=interpolation)


def to_model_pixels(bgr: np.ndarray, channels: int) -> np.ndarray:
    """A BGR uint8 image as the model's colour layout: RGB for 3 channels, grey for 1."""
    if channels == 1:
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        return grey[:, :, None]
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
