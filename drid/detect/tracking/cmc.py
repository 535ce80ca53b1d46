"""Camera-motion compensation: how the background moved between two frames.

Corners of the previous frame (outside the detected boxes, which move by themselves) are followed
into the current one with pyramidal Lucas-Kanade optical flow, and a similarity transform
(rotation, uniform scale, shift) is fitted to them with RANSAC
(``cv2.estimateAffinePartial2D``); the tracker moves its Kalman states by it before matching, so a
panning or shaking camera does not shift every track off its object. The work is done on a copy
of the frame scaled down to at most ``max_side`` pixels, the transform scaled back up.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SparseFlowCMC"]


class SparseFlowCMC:
    """Estimates one frame-to-frame similarity transform per call; keeps the previous frame."""

    def __init__(self, max_side: int = 640, corners: int = 400, min_inliers: int = 12) -> None:
        self.max_side = max_side
        self.corners = corners
        self.min_inliers = min_inliers
        self._prev: np.ndarray | None = None
        self._prev_mask: np.ndarray | None = None

    def reset(self) -> None:
        self._prev = None
        self._prev_mask = None

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray | None:
        """The 2×3 transform from the previous frame's pixels to ``image``'s, or ``None`` on the
        first frame, after a change of size, or when too few background points agree."""
        import cv2

        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        height, width = gray.shape[:2]
        factor = min(1.0, self.max_side / max(height, width))
        small = cv2.resize(gray, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA) if factor < 1.0 else gray
        mask = np.full(small.shape, 255, dtype=np.uint8)
        for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4) * factor:
            mask[max(0, int(y1)):max(0, int(np.ceil(y2))), max(0, int(x1)):max(0, int(np.ceil(x2)))] = 0
        prev, prev_mask = self._prev, self._prev_mask
        self._prev, self._prev_mask = small, mask
        if prev is None or prev_mask is None or prev.shape != small.shape:
            return None
        points = cv2.goodFeaturesToTrack(prev, maxCorners=self.corners, qualityLevel=0.01, minDistance=8, blockSize=3, mask=prev_mask)
        if points is None or len(points) < self.min_inliers:
            return None
        moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, small, points, None, winSize=(21, 21), maxLevel=3)  # type: ignore[call-overload]
        good = status.ravel() == 1
        if good.sum() < self.min_inliers:
            return None
        affine, inliers = cv2.estimateAffinePartial2D(points[good], moved[good], method=cv2.RANSAC, ransacReprojThreshold=2.0)
        if affine is None or inliers is None or int(inliers.sum()) < self.min_inliers:
            return None
        affine = affine.astype(np.float64)
        affine[:, 2] /= factor  # the shift back in full-size pixels; rotation and scale are unchanged
        return affine
