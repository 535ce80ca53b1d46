"""From pixels to metres: a scale (pixels per metre, or a known distance in the image) or a
ground-plane homography (four or more image points with their ground positions in metres)."""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

__all__ = ["Calibration", "KnownDistance"]

Pt = tuple[float, float]


class KnownDistance(BaseModel):
    """Two image points a known number of metres apart (a lane marking, a parking bay)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: Pt = Field(description="first image point [x, y] in pixels")
    end: Pt = Field(description="second image point [x, y] in pixels")
    metres: float = Field(gt=0, description="their distance on the ground, in metres")


class Calibration(BaseModel):
    """Give exactly one of ``pixels_per_metre``, ``known_distance``, ``homography`` or
    ``image_points`` + ``ground_points``. A scale suits a camera looking straight down (or
    speeds across a narrow band of depth); a homography maps the ground plane of any view."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pixels_per_metre: float | None = Field(default=None, gt=0, description="image pixels per metre on the ground")
    known_distance: KnownDistance | None = Field(default=None, description="two image points and their distance in metres")
    homography: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]] | None = Field(
        default=None, description="3×3 matrix mapping image pixels to ground metres"
    )
    image_points: tuple[Pt, ...] | None = Field(default=None, description="≥ 4 image points [x, y] (pixels) on the ground plane")
    ground_points: tuple[Pt, ...] | None = Field(default=None, description="the same points on the ground [X, Y] in metres")
    _matrix: np.ndarray | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_way(self) -> Calibration:
        given = [n for n in ("pixels_per_metre", "known_distance", "homography", "image_points") if getattr(self, n) is not None]
        if (self.image_points is None) != (self.ground_points is None):
            raise ValueError("image_points and ground_points go together")
        if len(given) != 1:
            raise ValueError(
                "give exactly one of pixels_per_metre, known_distance, homography, image_points+ground_points"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.image_points is not None:
            assert self.ground_points is not None
            if len(self.image_points) < 4 or len(self.image_points) != len(self.ground_points):
                raise ValueError(
                    f"image_points and ground_points need the same number (≥ 4) of points, got {len(self.image_points)} and {len(self.ground_points)}"
                )
        if self.known_distance is not None:
            kd = self.known_distance
            if math.dist(kd.start, kd.end) <= 0:
                raise ValueError("known_distance: start and end are the same point")
        matrix = self._solve()
        self._matrix = matrix
        if matrix is not None and (not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-12):
            raise ValueError("the ground-plane homography is degenerate (are three of the points on one line?)")
        return self

    def matrix(self) -> np.ndarray | None:
        """The image → ground homography, or None for a plain scale."""
        return self._matrix

    def _solve(self) -> np.ndarray | None:
        if self.homography is not None:
            return np.asarray(self.homography, dtype=np.float64)
        if self.image_points is not None:
            import cv2

            src = np.asarray(self.image_points, dtype=np.float64)
            dst = np.asarray(self.ground_points, dtype=np.float64)
            found, _ = cv2.findHomography(src, dst, 0)
            return np.full((3, 3), np.nan) if found is None else found
        return None

    def scale(self) -> float | None:
        """Pixels per metre, or None for a homography."""
        if self.pixels_per_metre is not None:
            return self.pixels_per_metre
        if self.known_distance is not None:
            kd = self.known_distance
            return math.dist(kd.start, kd.end) / kd.metres
        return None

    def to_ground(self, points: np.ndarray) -> np.ndarray:
        """``N×2`` image points (pixels) → ``N×2`` ground points (metres)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        scale = self.scale()
        if scale is not None:
            return pts / scale
        matrix = self.matrix()
        assert matrix is not None
        homog = np.c_[pts, np.ones(len(pts))] @ matrix.T
        return homog[:, :2] / homog[:, 2:3]
