"""Boxes and points in pixel coordinates (x to the right, y down, origin at the top-left corner)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["BoundingBox", "Point", "boxes_to_array", "iou_matrix"]

#: A point ``(x, y)`` in pixels.
Point = tuple[float, float]

_Coordinate = Annotated[float, Field(allow_inf_nan=False)]


class BoundingBox(BaseModel):
    """An axis-aligned box ``x1, y1, x2, y2`` in pixels, ``x1 <= x2`` and ``y1 <= y2``."""

    model_config = ConfigDict(frozen=True)

    x1: _Coordinate
    y1: _Coordinate
    x2: _Coordinate
    y2: _Coordinate

    @model_validator(mode="after")
    def _ordered(self) -> BoundingBox:
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise ValueError(
                f"box corners out of order: x1={self.x1}, y1={self.y1}, x2={self.x2}, y2={self.y2} "
                "(expected x1 <= x2 and y1 <= y2)"
            )
        return self

    @classmethod
    def from_xywh(cls, x: float, y: float, width: float, height: float) -> BoundingBox:
        """From a top-left corner and a size, the form OpenCV detectors return."""
        return cls(x1=x, y1=y, x2=x + width, y2=y + height)

    @classmethod
    def from_center(cls, cx: float, cy: float, width: float, height: float) -> BoundingBox:
        return cls(x1=cx - width / 2, y1=cy - height / 2, x2=cx + width / 2, y2=cy + height / 2)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> Point:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def as_xyxy(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    def as_xywh(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.width, self.height)

    def intersection(self, other: BoundingBox) -> float:
        """Area shared by both boxes (0 when they do not touch)."""
        w = min(self.x2, other.x2) - max(self.x1, other.x1)
        h = min(self.y2, other.y2) - max(self.y1, other.y1)
        return w * h if w > 0 and h > 0 else 0.0

    def iou(self, other: BoundingBox) -> float:
        """Intersection over union in [0, 1]; 0 for two empty boxes."""
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def clip(self, width: float, height: float) -> BoundingBox:
        """This box cut to an image of ``width`` × ``height`` pixels (may become empty)."""
        x1 = min(max(self.x1, 0.0), width)
        y1 = min(max(self.y1, 0.0), height)
        x2 = min(max(self.x2, 0.0), width)
        y2 = min(max(self.y2, 0.0), height)
        return BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2)

    def pad(self, fraction: float) -> BoundingBox:
        """Grown by ``fraction`` of its width and height on every side (shrunk when negative)."""
        dx, dy = self.width * fraction, self.height * fraction
        return BoundingBox(x1=self.x1 - dx, y1=self.y1 - dy, x2=self.x2 + dx, y2=self.y2 + dy)

    def contains_point(self, point: Point) -> bool:
        x, y = point
        return self.x1 <= x <= self.x2 and self.y1 <= y <= self.y2


def boxes_to_array(boxes: list[BoundingBox]) -> np.ndarray:
    """An ``N×4`` float64 array of ``x1, y1, x2, y2`` rows, for vectorised work."""
    if not boxes:
        return np.zeros((0, 4), dtype=np.float64)
    return np.array([b.as_xyxy() for b in boxes], dtype=np.float64)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two ``N×4`` and ``M×4`` xyxy arrays, as an ``N×M`` array."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)
