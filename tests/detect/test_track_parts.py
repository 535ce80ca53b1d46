"""The tracker's building blocks against their textbook forms: the decoupled Kalman filter against
the full 8×8 one, the gated assignment against an exhaustive search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from drid.detect.tracking.association import assign, iou_matrix
from drid.detect.tracking.kalman import BoxKalman
from drid.schemas import iou_matrix as reference_iou


def full_filter(z0: np.ndarray, steps: list[tuple[float, np.ndarray]], accel: float, meas: float, speed: float) -> np.ndarray:
    """The 8×8 constant-velocity filter with the same noise model, written out in matrices."""
    x = np.r_[z0, np.zeros(4)]
    h = max(z0[3], 1.0)
    P = np.diag(np.r_[np.full(4, (meas * h) ** 2), np.full(4, (speed * h) ** 2)])
    H = np.hstack([np.eye(4), np.zeros((4, 4))])
    for dt, z in steps:
        F = np.eye(8)
        F[:4, 4:] = np.eye(4) * dt
        q = (accel * max(x[3], 1.0)) ** 2
        G = np.array([[dt**4 / 4, dt**3 / 2], [dt**3 / 2, dt**2]]) * q
        Q = np.zeros((8, 8))
        for i in range(4):
            Q[np.ix_([i, i + 4], [i, i + 4])] = G
        x, P = F @ x, F @ P @ F.T + Q
        R = np.eye(4) * (meas * max(z[3], 1.0)) ** 2
        K = P @ H.T @ np.linalg.inv(H @ P @ H.T + R)
        x, P = x + K @ (z - H @ x), (np.eye(8) - K @ H) @ P
    return x


def test_the_decoupled_filter_is_the_full_filter():
    rng = np.random.default_rng(3)
    kalman = BoxKalman(accel=2.0, measurement=0.05, initial_speed=2.0)
    starts = rng.uniform([50, 50, 20, 40], [500, 300, 60, 120], (5, 4))
    x, P = kalman.initiate(starts)
    steps: list[list[tuple[float, np.ndarray]]] = [[] for _ in range(5)]
    for _ in range(12):
        dt = float(rng.uniform(0.02, 0.3))
        z = x[:, :4] + rng.normal(0, 3, (5, 4)) + 40 * dt
        kalman.predict(x, P, dt)
        kalman.update(x, P, np.arange(5), z)
        for k in range(5):
            steps[k].append((dt, z[k]))
    for k in range(5):
        np.testing.assert_allclose(x[k], full_filter(starts[k], steps[k], 2.0, 0.05, 2.0), rtol=1e-9, atol=1e-6)


def best_by_search(cost: np.ndarray, limit: float) -> float:
    """lapjv's objective with a cost limit: pairs at most ``limit``, each one left over ``limit/2``."""
    n, m = cost.shape
    best = (n + m) * limit / 2
    for k in range(1, min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                c = cost[list(rows), list(cols)]
                if np.all(c <= limit):
                    best = min(best, c.sum() + (n + m - 2 * k) * limit / 2)
    return best


def test_the_gated_assignment_is_optimal():
    rng = np.random.default_rng(11)
    for _ in range(60):
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        cost = np.where(rng.random((n, m)) < 0.5, rng.random((n, m)), np.inf)
        rows, cols = assign(cost, 0.8)
        assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
        assert np.all(cost[rows, cols] <= 0.8)
        got = cost[rows, cols].sum() + (n + m - 2 * len(rows)) * 0.4
        assert got <= best_by_search(cost, 0.8) + 1e-9


@pytest.mark.parametrize(("n", "m", "side"), [(7, 9, 100), (300, 400, 2000), (300, 400, 60)])
def test_iou_matches_the_schema_helper(n, m, side):
    # small (dense), many spread out (only x-overlapping pairs computed), many crowded (dense again)
    rng = np.random.default_rng(n + side)
    a = rng.uniform(0, side, (n, 2))
    b = rng.uniform(0, side, (m, 2))
    a = np.hstack([a, a + rng.uniform(1, 40, (n, 2))])
    b = np.hstack([b, b + rng.uniform(1, 40, (m, 2))])
    np.testing.assert_allclose(iou_matrix(a, b), reference_iou(a, b), atol=1e-12)
