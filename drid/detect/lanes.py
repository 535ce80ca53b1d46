"""The ``lanes`` detector: lane lines seen from a forward-facing (dash) camera, by edges and
Hough segments, one straight line per side."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from pydantic import Field, model_validator

from drid.detect.boxes import scaled
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import BoundingBox, Detection, Frame

__all__ = ["LaneDetector"]


class LaneDetector(Plugin):
    """Lane lines seen from a forward-facing (dash) camera: grey → Gaussian blur → Canny edges →
    a trapezoidal region of interest → probabilistic Hough segments → one straight line per side,
    fitted to the segments weighted by their length.

    Each side found becomes a ``Detection`` labelled ``lane-left`` or ``lane-right`` whose
    ``polyline`` runs from the bottom of the region to its top (the box is the polyline's extent).
    ``score`` grows with the length of supporting segments. With ``smoothing`` > 0 the lines are
    averaged over frames and a side missing for up to ``hold`` frames keeps its last line."""

    drid_name = "lanes"
    labels = ("lane-left", "lane-right")

    class Params(PluginParams):
        blur: int = Field(default=5, ge=1, le=31, description="Gaussian blur kernel (odd)")
        canny_low: int = Field(default=50, ge=0, le=1000)
        canny_high: int = Field(default=150, ge=0, le=1000)
        roi_top: float = Field(default=0.6, ge=0.0, lt=1.0, description="top of the region of interest, as a fraction of the height")
        roi_top_width: float = Field(default=0.12, gt=0.0, le=1.0, description="width of the region's top edge, as a fraction of the width")
        roi_bottom_width: float = Field(default=0.95, gt=0.0, le=1.0, description="width of the region's bottom edge, as a fraction of the width")
        hough_threshold: int = Field(default=20, ge=1, description="votes a Hough segment needs")
        min_line_length: int = Field(default=20, ge=1, description="shortest Hough segment, pixels")
        max_line_gap: int = Field(default=150, ge=0, description="largest gap joined into one segment, pixels (dashed lines)")
        min_slope: float = Field(default=0.45, ge=0.0, description="flattest |dy/dx| a lane segment may have")
        max_slope: float = Field(default=4.0, gt=0.0, description="steepest |dy/dx| a lane segment may have")
        smoothing: float = Field(default=0.0, ge=0.0, lt=1.0, description="weight of the previous frame's line (video)")
        hold: int = Field(default=5, ge=0, description="frames a side keeps its last line when not found (with smoothing)")
        resize: float = Field(default=1.0, gt=0.05, le=1.0, description="find edges at this fraction of the frame size (speed); lines come back in frame pixels")

        @model_validator(mode="after")
        def _ordered(self) -> LaneDetector.Params:
            if self.canny_high < self.canny_low:
                raise ValueError(f"canny_high ({self.canny_high}) must not be below canny_low ({self.canny_low})")
            if self.min_slope >= self.max_slope:
                raise ValueError(f"min_slope ({self.min_slope}) must be below max_slope ({self.max_slope})")
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.blur = self.params.blur | 1  # Gaussian kernels are odd
        self._last: dict[str, tuple[np.ndarray, int]] = {}

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Forgets the lines of a previous run."""
        self._last = {}

    def region(self, width: int, height: int) -> np.ndarray:
        """The region of interest as a 4×2 int32 polygon (bottom-left, top-left, top-right, bottom-right)."""
        p = self.params
        cx, y_top = width / 2, p.roi_top * height
        top, bottom = p.roi_top_width * width / 2, p.roi_bottom_width * width / 2
        return np.array([[cx - bottom, height - 1], [cx - top, y_top], [cx + top, y_top], [cx + bottom, height - 1]], dtype=np.int32)

    def segments(self, image: np.ndarray) -> np.ndarray:
        """Hough segments ``x1, y1, x2, y2`` inside the region of interest (``N×4``), in the
        pixels of ``image`` (found at ``resize`` × its size)."""
        resize = self.params.resize
        if resize != 1.0:
            return self._segments(scaled(image, resize)) / resize
        return self._segments(image)

    def _segments(self, image: np.ndarray) -> np.ndarray:
        p = self.params
        h, w = image.shape[:2]
        grey = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (self.blur, self.blur), 0)
        edges = cv2.Canny(grey, p.canny_low, p.canny_high)
        mask = np.zeros_like(edges)
        cv2.fillPoly(mask, [self.region(w, h)], 255)
        lines = cv2.HoughLinesP(cv2.bitwise_and(edges, mask), 1, np.pi / 180, p.hough_threshold, minLineLength=p.min_line_length, maxLineGap=p.max_line_gap)
        return np.zeros((0, 4)) if lines is None else lines.reshape(-1, 4).astype(np.float64)

    def fit(self, segments: np.ndarray, width: int) -> dict[str, tuple[np.ndarray, float]]:
        """One line ``x = a·y + b`` per side: ``{side: ([a, b], supporting length in pixels)}``."""
        out: dict[str, tuple[np.ndarray, float]] = {}
        if len(segments) == 0:
            return out
        x1, y1, x2, y2 = segments.T
        dx, dy = x2 - x1, y2 - y1
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(dx != 0, dy / dx, np.inf)
        length = np.hypot(dx, dy)
        mid_x = (x1 + x2) / 2
        steep = (np.abs(slope) >= self.params.min_slope) & (np.abs(slope) <= self.params.max_slope)
        # Image y grows downwards: the left line rises to the right (negative slope) on the left half.
        sides = {"left": steep & (slope < 0) & (mid_x < width / 2), "right": steep & (slope > 0) & (mid_x > width / 2)}
        for side, chosen in sides.items():
            if not chosen.any():
                continue
            ys = np.concatenate([y1[chosen], y2[chosen]])
            xs = np.concatenate([x1[chosen], x2[chosen]])
            weights = np.concatenate([length[chosen], length[chosen]])
            a, b = np.polyfit(ys, xs, 1, w=np.sqrt(weights))
            out[side] = (np.array([a, b]), float(length[chosen].sum()))
        return out

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """``lane-left`` and ``lane-right`` (each when found) as polylines across the region."""
        if frame.image is None:
            return []
        h, w = frame.image.shape[:2]
        y_bottom, y_top = float(h - 1), self.params.roi_top * h
        fits = self.fit(self.segments(frame.image), w)
        out = []
        for side in ("left", "right"):
            line, support = fits.get(side, (None, 0.0))
            if self.params.smoothing:
                line = self._smooth(side, line)
            if line is None:
                continue
            a, b = line
            points = ((a * y_bottom + b, y_bottom), (a * y_top + b, y_top))
            xs = [p[0] for p in points]
            box = BoundingBox(x1=min(xs), y1=y_top, x2=max(xs), y2=y_bottom).clip(w, h)
            score = min(1.0, support / (y_bottom - y_top)) if support else 0.5
            out.append(Detection(box=box, score=score, label=f"lane-{side}", polyline=points, meta={"side": side, "slope": float(a)}))
        return out

    def _smooth(self, side: str, line: np.ndarray | None) -> np.ndarray | None:
        previous = self._last.get(side)
        if line is None:
            if previous is None or previous[1] >= self.params.hold:
                self._last.pop(side, None)
                return None
            self._last[side] = (previous[0], previous[1] + 1)
            return previous[0]
        if previous is not None:
            line = self.params.smoothing * previous[0] + (1 - self.params.smoothing) * line
        self._last[side] = (line, 0)
        return line
