"""The ``blobs`` detector: dark marks on a light page (or light on dark) by thresholding and
connected components — handwriting, printed symbols, parts on a conveyor against a plain belt."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import BoundingBox, Detection, Frame

__all__ = ["BlobDetector", "find_blobs"]


def find_blobs(
    image: np.ndarray,
    *,
    polarity: Literal["dark", "light"] = "dark",
    threshold: int | None = None,
    blur: int = 3,
    merge: int = 3,
    min_area: float = 20.0,
    max_area: float | None = None,
    min_size: int = 3,
) -> list[tuple[BoundingBox, float]]:
    """Boxes of the connected ink regions of a BGR or grey image, with a contrast score in [0, 1].

    The image is blurred, thresholded (Otsu's threshold unless ``threshold`` is given), dilated
    by ``merge`` pixels so the strokes of one mark join, and split into connected components;
    components outside the area and size limits are dropped. Boxes are those of the undilated ink."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if blur > 1:
        grey = cv2.GaussianBlur(grey, (blur | 1, blur | 1), 0)
    mode = cv2.THRESH_BINARY_INV if polarity == "dark" else cv2.THRESH_BINARY
    if threshold is None:
        level, ink = cv2.threshold(grey, 0, 255, mode | cv2.THRESH_OTSU)
    else:
        level, ink = cv2.threshold(grey, threshold, 255, mode)
    joined = cv2.dilate(ink, np.ones((2 * merge + 1, 2 * merge + 1), np.uint8)) if merge > 0 else ink
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    background = float(np.median(grey))
    out: list[tuple[BoundingBox, float]] = []
    for k in range(1, n):
        x, y, w, h, _ = stats[k]
        region = (labels[y:y + h, x:x + w] == k) & (ink[y:y + h, x:x + w] > 0)
        area = float(region.sum())
        if area < min_area or (max_area is not None and area > max_area):
            continue
        ys, xs = np.nonzero(region)
        x1, y1, x2, y2 = x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1
        if (x2 - x1) < min_size or (y2 - y1) < min_size:
            continue
        mean_ink = float(grey[y:y + h, x:x + w][region].mean())
        contrast = min(abs(background - mean_ink) / 255.0 * 2.0, 1.0)
        out.append((BoundingBox(x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2)), contrast))
    out.sort(key=lambda item: (round(item[0].y1 / 8), item[0].x1))
    return out


class BlobDetector(Plugin):
    """Dark (or light) blobs on a plain background: threshold, join strokes, connected components."""

    drid_name = "blobs"

    class Params(PluginParams):
        polarity: Literal["dark", "light"] = Field(default="dark", description="'dark' marks on a light page, or 'light' on dark")
        threshold: int | None = Field(default=None, ge=0, le=255, description="grey level separating ink from paper (default: Otsu's, per frame)")
        blur: int = Field(default=3, ge=0, le=31, description="Gaussian blur kernel before thresholding (0: none)")
        merge: int = Field(default=3, ge=0, le=50, description="dilate the ink by this many pixels so the strokes of one mark join")
        min_area: float = Field(default=20.0, ge=0, description="smallest blob, in ink pixels")
        max_area: float | None = Field(default=None, gt=0, description="largest blob, in ink pixels")
        min_size: int = Field(default=3, ge=1, description="smallest width and height of a blob box, in pixels")
        label: str = Field(default="blob", min_length=1, description="the label of every detection")

        @model_validator(mode="after")
        def _areas(self) -> BlobDetector.Params:
            if self.max_area is not None and self.max_area < self.min_area:
                raise ValueError(f"max_area ({self.max_area}) is below min_area ({self.min_area})")
            return self

    params: Params

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """One detection per blob of ``frame.image``, in reading order (rows, then left to right)."""
        if frame.image is None:
            return []
        p = self.params
        found = find_blobs(frame.image, polarity=p.polarity, threshold=p.threshold, blur=p.blur, merge=p.merge,
                           min_area=p.min_area, max_area=p.max_area, min_size=p.min_size)
        return [Detection(box=box, score=score, label=p.label) for box, score in found]
