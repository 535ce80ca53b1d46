"""Temporal context from tracks placed by hand: confirmation, appearance and departure, motion
with speed and heading (px/s and, calibrated, m/s), approach, flicker."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from drid.interpret.calibration import Calibration
from drid.interpret.memory import TemporalParams, TrackMemory, heading_word
from drid.schemas import SceneObject
from drid.testing import box_at, scene_object


def obj(oid: int, label: str, x: float, y: float, w: float = 40, h: float = 100) -> SceneObject:
    """A tracked object standing at (x, y): its box's bottom-centre (the default anchor)."""
    return scene_object(oid, label, box_at(x, y, w, h))


def names(events):
    return [(e.name, e.objects) for e in events]


def test_track_counts_after_min_frames_and_leaves_after_forget_after():
    mem = TrackMemory(TemporalParams(min_frames=3, forget_after=0.5))
    fps = 10
    seen = []
    for k in range(6):
        seen.append(names(mem.update(k / fps, [obj(1, "person", 100, 300)])))
    assert seen[:2] == [[], []]
    assert seen[2] == [("appeared", (1,))]
    assert all(s == [] for s in seen[3:])
    later = [names(mem.update(k / fps, [])) for k in range(6, 13)]
    assert later[:5] == [[]] * 5  # 0.1 … 0.5 s without a sighting: not gone yet
    assert ("left", (1,)) in later[5]
    assert mem.tracks == {}


def test_unconfirmed_flicker_never_appears_nor_leaves():
    mem = TrackMemory(TemporalParams(min_frames=3, forget_after=0.3))
    events = []
    for k in range(20):
        frame = [obj(9, "person", 50, 50)] if k in (0, 5, 12) else []  # a flickering false detection
        events += mem.update(k * 0.1, frame)
    assert events == []


def test_short_gap_does_not_end_a_track():
    mem = TrackMemory(TemporalParams(min_frames=2, forget_after=0.5))
    events = []
    for k in range(20):
        frame = [] if k in (8, 9, 10) else [obj(1, "person", 100 + 5 * k, 300)]
        events += mem.update(k * 0.1, frame)
    assert names(events).count(("appeared", (1,))) == 1
    assert ("left", (1,)) not in names(events)


def test_speed_heading_and_moving_state():
    mem = TrackMemory(TemporalParams(min_frames=2, window=1.0))
    # 30 px per frame to the right at 10 fps: 300 px/s.
    for k in range(15):
        mem.update(k * 0.1, [obj(1, "car", 100 + 30 * k, 400, w=120, h=60), obj(2, "person", 600, 400)])
    car, person = mem.tracks[1].motion, mem.tracks[2].motion
    assert car.speed == pytest.approx(300.0)
    assert car.heading == pytest.approx(0.0)
    assert car.moving and not person.moving
    assert person.speed == pytest.approx(0.0)
    assert car.speed_mps is None  # no calibration


def test_moving_up_the_image_heads_90_degrees_and_jitter_is_not_motion():
    rng = np.random.default_rng(0)
    mem = TrackMemory(TemporalParams(min_frames=2))
    for k in range(20):
        jitter = rng.normal(0, 1.5, 2)  # ±1.5 px of detector noise on a standing person
        mem.update(k * 0.1, [obj(1, "person", 300, 400 - 20 * k), obj(2, "person", 100 + jitter[0], 300 + jitter[1])])
    walker, stander = mem.tracks[1].motion, mem.tracks[2].motion
    assert walker.heading == pytest.approx(90.0)
    assert heading_word(walker.heading) == "up"
    assert walker.moving
    assert not stander.moving


def test_moving_hysteresis_and_stop_events():
    mem = TrackMemory(TemporalParams(min_frames=1, window=0.3, moving_speed=0.3, stopping_speed=0.15))
    events = []
    x = 100.0
    for k in range(40):
        x += 10 if k < 20 else 0  # 100 px/s for 2 s (size √(40·100) ≈ 63 px: 1.6 sizes/s), then still
        events += mem.update(k * 0.1, [obj(1, "person", x, 300)])
    kinds = [e.name for e in events]
    assert kinds == ["appeared", "started_moving", "stopped"]


def test_metric_speed_from_pixels_per_metre_and_from_a_homography():
    # 50 px per metre; 25 px per frame at 10 fps = 250 px/s = 5 m/s = 18 km/h.
    for calibration in (
        Calibration(pixels_per_metre=50),
        Calibration(known_distance={"start": [0, 0], "end": [300, 400], "metres": 10}),
        Calibration(image_points=[[0, 0], [500, 0], [500, 500], [0, 500]], ground_points=[[0, 0], [10, 0], [10, 10], [0, 10]]),
    ):
        mem = TrackMemory(TemporalParams(min_frames=1), calibration)
        for k in range(12):
            mem.update(k * 0.1, [obj(1, "car", 100 + 25 * k, 400, w=100, h=50)])
        assert mem.tracks[1].motion.speed_mps == pytest.approx(5.0)


def test_homography_speed_depends_on_depth():
    # A ground plane seen in perspective: rows near the top of the image are farther away, so the
    # same pixel speed is a higher ground speed there.
    cal = Calibration(image_points=[[200, 100], [440, 100], [640, 480], [0, 480]], ground_points=[[0, 30], [10, 30], [10, 0], [0, 0]])
    speeds = []
    for y in (150, 450):
        mem = TrackMemory(TemporalParams(min_frames=1), cal)
        for k in range(12):
            mem.update(k * 0.1, [obj(1, "car", 250 + 10 * k, y, w=60, h=30)])
        speeds.append(mem.tracks[1].motion.speed_mps)
    assert speeds[0] > 2 * speeds[1]


def test_bad_calibrations_are_refused():
    with pytest.raises(ValidationError, match="exactly one"):
        Calibration(pixels_per_metre=10, homography=[[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValidationError, match="same number"):
        Calibration(image_points=[[0, 0], [1, 0], [1, 1]], ground_points=[[0, 0], [1, 0], [1, 1]])
    with pytest.raises(ValidationError, match="degenerate"):
        Calibration(image_points=[[0, 0], [1, 1], [2, 2], [3, 3]], ground_points=[[0, 0], [1, 0], [1, 1], [0, 1]])


def test_approaching_and_moving_away():
    mem = TrackMemory(TemporalParams(min_frames=1, approach_range=5.0))
    table = (500.0, 250.0, 600.0, 300.0)
    for k in range(10):
        walker = obj(1, "person", 100 + 20 * k, 300)  # walks right, towards the table
        leaver = obj(2, "person", 450 - 20 * k, 500)  # walks left, away from the table (and from 1's path)
        mem.update(k * 0.1, [walker, leaver])
    boxes = np.array([walker.box.as_xyxy(), leaver.box.as_xyxy(), table])
    found = {(i, p, j) for i, p, j, _ in mem.approach([0, 1], boxes, [1, 2, -1])}
    assert (0, "approaching", 2) in found
    assert (1, "moving_away", 2) in found
    conf = {(i, p, j): c for i, p, j, c in mem.approach([0, 1], boxes, [1, 2, -1])}
    dx, dy = 550 - 280, 275 - 250
    assert conf[(0, "approaching", 2)] == pytest.approx(dx / math.hypot(dx, dy))
    # Out of range (3 sizes, the default) the table is too far to be approached.
    near_only = TrackMemory(TemporalParams(min_frames=1))
    near_only.tracks = mem.tracks
    assert (0, "approaching", 2) not in {(i, p, j) for i, p, j, _ in near_only.approach([0, 1], boxes, [1, 2, -1])}


def test_history_is_bounded():
    mem = TrackMemory(TemporalParams(min_frames=1, max_history=8, window=100.0))
    for k in range(100):
        mem.update(k * 0.1, [obj(1, "person", k, 300)])
    assert len(mem.tracks[1].history) == 8
