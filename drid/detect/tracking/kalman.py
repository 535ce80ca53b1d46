"""Constant-velocity Kalman filters of boxes, many at once.

The state of a box is ``cx, cy, w, h`` and their rates of change (pixels and pixels per second);
a measurement is ``cx, cy, w, h``. Process noise is white acceleration, measurement noise a
fraction of the box height, both scaled by the box so near and far objects behave alike. With
diagonal noise and a constant-velocity model the four coordinates are independent filters of two
states each, so the 8×8 covariance of a box is exactly four 2×2 blocks: ``P[n, d] = (pp, pv, vv)``
for box ``n`` and coordinate ``d``. Predicting and correcting N boxes is then a handful of
element-wise numpy operations, with no per-box matrix algebra (the 8×8 form of SORT and ByteTrack
gives the same numbers at many times the cost).
"""

from __future__ import annotations

import numpy as np

__all__ = ["BoxKalman", "KalmanBoxFilter", "cxcywh_to_xyxy", "xyxy_to_cxcywh"]


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.empty_like(b)
    out[:, 0] = (b[:, 0] + b[:, 2]) * 0.5
    out[:, 1] = (b[:, 1] + b[:, 3]) * 0.5
    out[:, 2] = b[:, 2] - b[:, 0]
    out[:, 3] = b[:, 3] - b[:, 1]
    return out


def cxcywh_to_xyxy(states: np.ndarray) -> np.ndarray:
    s = np.atleast_2d(np.asarray(states, dtype=np.float64))
    half_w, half_h = s[:, 2] * 0.5, s[:, 3] * 0.5
    return np.stack([s[:, 0] - half_w, s[:, 1] - half_h, s[:, 0] + half_w, s[:, 1] + half_h], axis=1)


class BoxKalman:
    """The filter's noise model, applied to arrays of states ``x`` (N×8) and covariances ``P``
    (N×4×3, see the module docstring) in place.

    ``accel``: process noise, white acceleration in box heights per second²; ``measurement``:
    measurement noise in box heights; ``initial_speed``: the spread of a new box's unknown
    velocity, in box heights per second."""

    def __init__(self, accel: float = 2.0, measurement: float = 0.05, initial_speed: float = 2.0) -> None:
        self.accel = float(accel)
        self.measurement = float(measurement)
        self.initial_speed = float(initial_speed)

    def initiate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """States and covariances of new boxes measured at ``z`` (N×4 ``cx, cy, w, h``): the
        position known to the measurement noise, the velocity zero but uncertain."""
        z = np.asarray(z, dtype=np.float64).reshape(-1, 4)
        x = np.zeros((len(z), 8))
        x[:, :4] = z
        h = np.maximum(z[:, 3], 1.0)[:, None]
        P = np.zeros((len(z), 4, 3))
        P[:, :, 0] = (self.measurement * h) ** 2
        P[:, :, 2] = (self.initial_speed * h) ** 2
        return x, P

    def predict(self, x: np.ndarray, P: np.ndarray, dt: float) -> None:
        """Advance every state by ``dt`` seconds."""
        if dt <= 0 or len(x) == 0:
            return
        q = ((self.accel * np.maximum(x[:, 3], 1.0)) ** 2)[:, None]
        pp, pv, vv = P[:, :, 0], P[:, :, 1], P[:, :, 2]
        pp += dt * (2.0 * pv + dt * vv) + q * (dt**4 / 4.0)  # pv, vv still the old ones here
        pv += dt * vv + q * (dt**3 / 2.0)
        vv += q * dt**2
        x[:, :4] += dt * x[:, 4:]
        np.maximum(x[:, 2:4], 1.0, out=x[:, 2:4])

    def update(self, x: np.ndarray, P: np.ndarray, rows: np.ndarray, z: np.ndarray) -> None:
        """Correct the states at ``rows`` with their measurements ``z`` (len(rows)×4)."""
        if len(rows) == 0:
            return
        z = np.asarray(z, dtype=np.float64).reshape(-1, 4)
        xs, Ps = x[rows], P[rows]
        r = ((self.measurement * np.maximum(z[:, 3], 1.0)) ** 2)[:, None]
        pp, pv, vv = Ps[:, :, 0], Ps[:, :, 1], Ps[:, :, 2]
        s = pp + r
        kp, kv = pp / s, pv / s
        y = z - xs[:, :4]
        xs[:, :4] += kp * y
        xs[:, 4:] += kv * y
        Ps[:, :, 2] = vv - kv * pv
        Ps[:, :, 1] = pv * (1.0 - kp)
        Ps[:, :, 0] = pp * (1.0 - kp)
        np.maximum(xs[:, 2:4], 1.0, out=xs[:, 2:4])
        x[rows], P[rows] = xs, Ps

    def distance(self, x: np.ndarray, P: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distances (len(z)×len(x)) of measurements ``z`` (``cx, cy, w, h``)
        from the predicted states: 9.49 is the 95 % gate of four degrees of freedom."""
        z = np.asarray(z, dtype=np.float64).reshape(-1, 4)
        r = (self.measurement * np.maximum(z[:, 3], 1.0)) ** 2
        spread = P[None, :, :, 0] + r[:, None, None]
        diff = z[:, None, :] - x[None, :, :4]
        return (diff * diff / spread).sum(axis=2)

    def warp(self, x: np.ndarray, P: np.ndarray, affine: np.ndarray) -> None:
        """Move every state by a camera motion: the 2×3 similarity ``affine`` (rotation, scale,
        shift from the previous frame to this one) maps centres and rotates/scales velocities;
        sizes and their covariances scale with it (the blocks stay decoupled: the small rotation's
        mixing of the x and y variances is left out)."""
        if len(x) == 0:
            return
        A, t = affine[:, :2], affine[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(A))))
        x[:, 0:2] = x[:, 0:2] @ A.T + t
        x[:, 4:6] = x[:, 4:6] @ A.T
        x[:, 2:4] *= scale
        x[:, 6:8] *= scale
        P *= scale**2


class KalmanBoxFilter:
    """One box's filter (the batched :class:`BoxKalman` on a single state): ``predict(dt)``,
    ``update(box)`` with ``cx, cy, w, h`` boxes and ``velocity`` in pixels per second."""

    def __init__(self, box: np.ndarray, accel: float = 2.0, measurement: float = 0.05, initial_speed: float = 2.0) -> None:
        self.model = BoxKalman(accel, measurement, initial_speed)
        self._x, self._P = self.model.initiate(np.asarray(box, dtype=np.float64))

    @property
    def x(self) -> np.ndarray:
        """The state ``cx, cy, w, h, vx, vy, vw, vh``."""
        return self._x[0]

    def predict(self, dt: float) -> np.ndarray:
        """Advance the state by ``dt`` seconds; the predicted ``cx, cy, w, h``."""
        self.model.predict(self._x, self._P, dt)
        return self._x[0, :4].copy()

    def update(self, box: np.ndarray) -> None:
        """Correct the state with a measured ``cx, cy, w, h``."""
        self.model.update(self._x, self._P, np.array([0]), np.asarray(box, dtype=np.float64))

    @property
    def velocity(self) -> tuple[float, float]:
        return float(self._x[0, 4]), float(self._x[0, 5])
