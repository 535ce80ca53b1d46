"""The ``cartpole-parts`` detector: CartPole from pixels, without reading the environment's state.

Colour segmentation of the rendered frame into blobs — dark (the cart; the one-pixel track line
is removed by a vertical opening), ochre (the pole) and violet (the axle) — with sub-pixel
measurements in ``meta``: the cart's centre from the anti-aliased profile of its lower rows, the
pole's axis from the intensity-weighted second moments of its pixels (also given as the
detection's ``polyline``). The other stages of the pixel pipeline are ``cartpole-recognizer``
(``drid.recognize.cartpole``), ``cartpole-state`` (``drid.interpret.cartpole``); the training
environment with the same kind of observation is ``drid.sources.cartpole``.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import BoundingBox, Detection, Frame

__all__ = ["CartPoleDetector"]


def _blobs(mask: np.ndarray, min_area: int) -> list[tuple[int, int, int, int, np.ndarray]]:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if area >= min_area:
            out.append((x, y, w, h, labels[y : y + h, x : x + w] == k))
    return out


def _shifted(d: Detection, ox: int, oy: int) -> Detection:
    """A detection made in a crop, moved to the coordinates of the whole frame."""
    meta = dict(d.meta)
    for key, offset in (("center_x", ox), ("center_y", oy)):
        value = meta.get(key)
        if isinstance(value, (int, float)):
            meta[key] = float(value) + offset
    box = d.box.model_copy(update={"x1": d.box.x1 + ox, "x2": d.box.x2 + ox, "y1": d.box.y1 + oy, "y2": d.box.y2 + oy})
    polyline = None if d.polyline is None else tuple((x + ox, y + oy) for x, y in d.polyline)
    return d.model_copy(update={"box": box, "polyline": polyline, "meta": meta})


class CartPoleDetector(Plugin):
    """Colour blobs of a rendered CartPole frame (dark, ochre, violet) with sub-pixel shape measurements."""

    drid_name = "cartpole-parts"

    class Params(PluginParams):
        min_area: int = Field(default=12, ge=1, description="smallest blob kept, in pixels")

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._open = np.ones((5, 1), np.uint8)

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """The dark, ochre and violet blobs of the rendered frame, in frame pixels."""
        image = frame.image
        if image is None:
            raise ValueError("this detector needs frame.image (run the gym source with pixels: true)")
        roi = self._region(image)
        if roi is None:
            return []
        oy, ox = roi[0].start, roi[1].start
        return [_shifted(d, ox, oy) for d in self._detect(np.ascontiguousarray(image[roi]), image.shape[1], image.shape[0], ox)]

    @staticmethod
    def _region(image: np.ndarray, margin: int = 3) -> tuple[slice, slice] | None:
        """Where anything is drawn (the full-width track line excluded): the rest is white."""
        drawn = cv2.inRange(image, (0, 0, 0), (250, 250, 250))
        per_row = cv2.reduce(drawn, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[:, 0] // 255
        H, W = drawn.shape
        content = (per_row > 0) & (per_row < 0.9 * W)
        rows = np.flatnonzero(content)
        if rows.size == 0:
            return None
        y0, y1 = max(0, rows[0] - margin), min(H, rows[-1] + 1 + margin)
        band = drawn[y0:y1][content[y0:y1]]
        cols = np.flatnonzero(band.any(0))
        x0, x1 = max(0, cols[0] - margin), min(W, cols[-1] + 1 + margin)
        return slice(y0, y1), slice(x0, x1)

    def _detect(self, image: np.ndarray, full_width: int, full_height: int, offset_x: int) -> list[Detection]:
        b = image[:, :, 0].astype(np.int16)
        g = image[:, :, 1].astype(np.int16)
        r = image[:, :, 2].astype(np.int16)
        found: list[Detection] = []
        H, W = image.shape[:2]

        # dark: every channel well below white; the track is a 1-pixel line, gone after opening
        dark = ((r < 200) & (g < 200) & (b < 200) & (np.abs(r - b) < 30)).astype(np.uint8) * 255
        dark = cv2.morphologyEx(dark, cv2.MORPH_OPEN, self._open)
        for x, y, w, h, blob in _blobs(dark, self.params.min_area):
            # centre from the lower rows' darkness profile: the anti-aliased side edges give
            # sub-pixel accuracy, and the pole never covers these rows
            rows = slice(y + max(0, h - 10), y + h - 1)
            x0, x1 = max(0, x - 2), min(W, x + w + 2)
            profile = ((255.0 - image[rows, x0:x1, 1]) / 255.0).sum(0)
            cx = x0 + float(np.average(np.arange(x1 - x0), weights=profile)) + 0.5 if profile.sum() > 0 else x + w / 2
            inside = 0 < x + offset_x and x + offset_x + w < full_width
            # a sub-pixel box centred on the measured centre (the interpret stage reads box.center)
            box = BoundingBox(x1=cx - w / 2, y1=y, x2=cx + w / 2, y2=y + h) if inside else BoundingBox(x1=x, y1=y, x2=x + w, y2=y + h)
            meta = self._shape(blob, None)
            meta.pop("axis")
            found.append(Detection(box=box.clip(W, H), label="dark", score=1.0, meta=meta | {"center_x": cx}))

        # ochre (202, 152, 101 in RGB): red clearly above blue, green between them
        ochre = ((r - b > 25) & (r >= g) & (g >= b) & (b < 245)).astype(np.uint8) * 255
        for x, y, w, h, blob in _blobs(ochre, self.params.min_area):
            weight = blob * np.clip((255.0 - image[y : y + h, x : x + w, 0]) / 154.0, 0.0, 1.0)
            meta = self._shape(blob, weight)
            cx, cy, (ux, uy), half = x + meta["cx"], y + meta["cy"], meta.pop("axis"), meta["half_length"]
            found.append(Detection(box=BoundingBox(x1=x, y1=y, x2=x + w, y2=y + h).clip(W, H), label="ochre", score=1.0,
                                   polyline=((cx - ux * half, cy - uy * half), (cx + ux * half, cy + uy * half)),
                                   meta=meta | {"center_x": cx, "center_y": cy}))

        # violet (129, 132, 203 in RGB): blue clearly above red and green
        violet = ((b - r > 40) & (b - g > 40)).astype(np.uint8) * 255
        for x, y, w, h, blob in _blobs(violet, self.params.min_area):
            meta = self._shape(blob, None)
            meta.pop("axis")
            found.append(Detection(box=BoundingBox(x1=x, y1=y, x2=x + w, y2=y + h).clip(W, H), label="violet", score=1.0,
                                   meta=meta | {"center_x": x + meta["cx"], "center_y": y + meta["cy"]}))
        return found

    @staticmethod
    def _shape(blob: np.ndarray, weight: np.ndarray | None) -> dict[str, Any]:
        """Area, fill ratio, elongation and the major axis (unit vector pointing up) of a blob."""
        m = cv2.moments((weight if weight is not None else blob).astype(np.float32))
        area = float(blob.sum())
        if m["m00"] <= 0:
            return {"area": area, "fill": 0.0, "elongation": 1.0, "cx": 0.0, "cy": 0.0, "axis": (0.0, -1.0), "half_length": 0.0}
        mu20, mu02, mu11 = m["mu20"] / m["m00"], m["mu02"] / m["m00"], m["mu11"] / m["m00"]
        spread = math.sqrt(max(0.0, (mu20 - mu02) ** 2 / 4 + mu11**2))
        major, minor = (mu20 + mu02) / 2 + spread, max((mu20 + mu02) / 2 - spread, 1e-6)
        phi = 0.5 * math.atan2(2 * mu11, mu20 - mu02)
        ux, uy = math.cos(phi), math.sin(phi)
        if uy > 0:  # point up (image y grows downwards)
            ux, uy = -ux, -uy
        h, w = blob.shape
        return {"area": area, "fill": area / float(h * w), "elongation": math.sqrt(major / minor),
                "cx": m["m10"] / m["m00"], "cy": m["m01"] / m["m00"], "axis": (ux, uy), "half_length": math.sqrt(3 * major)}
