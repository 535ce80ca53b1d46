"""A compact numeric summary of a scene for policies that learn: fixed length for a given
config, with a name for every entry (``feature_names``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["feature_names", "scene_features"]

_BASE = ("objects", "moving", "mean_speed", "max_speed", "relations", "events")


def feature_names(labels: Sequence[str], zones: Sequence[str], lines: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """``objects, moving, mean_speed, max_speed, relations, events``, then ``count:LABEL`` per
    label, ``zone:NAME`` (occupancy) per zone and ``line:NAME:DIRECTION`` (crossings so far) per
    line and direction. Speeds are in m/s when the interpreter is calibrated, else px/s."""
    names = list(_BASE)
    names += [f"count:{label}" for label in labels]
    names += [f"zone:{z}" for z in zones]
    names += [f"line:{name}:{d}" for name, directions in lines for d in directions]
    return names


def scene_features(
    object_labels: Sequence[str],
    speeds: Sequence[float],
    moving: int,
    n_relations: int,
    n_events: int,
    labels: Sequence[str],
    occupancy: Sequence[int],
    line_counts: Sequence[int],
) -> np.ndarray:
    """The vector described by :func:`feature_names`, as float32."""
    s = np.asarray(speeds, dtype=np.float64)
    head = [len(object_labels), moving, float(s.mean()) if len(s) else 0.0, float(s.max()) if len(s) else 0.0, n_relations, n_events]
    counts = [sum(1 for lab in object_labels if lab == label) for label in labels]
    return np.asarray([*head, *counts, *occupancy, *line_counts], dtype=np.float32)
