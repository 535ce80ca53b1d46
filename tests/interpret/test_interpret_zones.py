"""Zones and counting lines with tracks placed by hand: entry, exit, dwell, occupancy, crossings
by direction, anchors, and the jitter test (a box shaking on a line is counted once)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from drid.interpret.zones import LineSpec, ZoneSpec, ZoneTracker, anchor_points, points_in_polygon
from drid.testing import box_at


def run(tracker: ZoneTracker, xs, bottom=300.0, fps=10.0, oid=1, label="person"):
    events = []
    for k, x in enumerate(xs):
        events += tracker.update(k / fps, [oid], [label], np.array([box_at(x, bottom).as_xyxy()]))
    return events


def test_points_in_polygon_and_anchors():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    assert points_in_polygon(np.array([[5, 5], [15, 5], [-1, -1], [9.9, 0.1]]), square).tolist() == [True, False, False, True]
    triangle = np.array([[0, 0], [10, 0], [0, 10]], float)
    assert points_in_polygon(np.array([[2, 2], [8, 8]]), triangle).tolist() == [True, False]
    b = np.array([[10, 20, 30, 60]], float)
    assert anchor_points(b, "bottom").tolist() == [[20, 60]]
    assert anchor_points(b, "center").tolist() == [[20, 40]]
    assert anchor_points(b, "top-left").tolist() == [[10, 20]]


def test_zone_entry_exit_dwell_and_occupancy():
    zone = ZoneSpec(name="crossing", polygon=[(200, 250), (400, 250), (400, 350), (200, 350)])
    tracker = ZoneTracker([zone])
    xs = list(range(100, 520, 20))  # walks right through the zone at 200 px/s
    events = []
    occupied = []
    for k, x in enumerate(xs):
        events += tracker.update(k / 10, [1], ["person"], np.array([box_at(x, 300).as_xyxy()]))
        occupied.append(tracker.occupancy()["crossing"])
    kinds = [(e.name, e.data["zone"]) for e in events]
    assert kinds == [("entered_zone", "crossing"), ("exited_zone", "crossing")]
    # Debounced by 2 frames: the bottom-centre is on the left border at x=200 (frame 5, the
    # border counts as inside), confirmed at frame 6; out at x=400 (frame 15), confirmed at 16.
    entered_at = next(k for k, o in enumerate(occupied) if o == [1])
    assert entered_at == 6
    assert events[0].data == {"zone": "crossing", "label": "person", "count": 1}
    assert tracker.zone_counts == {"crossing": {"entered": 1, "exited": 1}}
    assert events[1].data["dwell_s"] == pytest.approx(1.0)
    assert tracker.occupancy() == {"crossing": []}


def test_zone_labels_filter_and_first_seen_inside():
    zone = ZoneSpec(name="lot", polygon=[(0, 0), (1000, 0), (1000, 1000), (0, 1000)], labels="car")
    tracker = ZoneTracker([zone])
    tracker.update(0.0, [1, 2], ["car", "person"], np.array([box_at(100, 300).as_xyxy(), box_at(200, 300).as_xyxy()]))
    assert tracker.occupancy() == {"lot": [1]}  # the car was there when first seen: no entry event
    assert tracker.zones_of(1, 2.5) == {"lot": 2.5}
    # vanishing is not walking out: the exit says the track was lost, and is not counted
    assert tracker.forget(1, 3.0, "car")[0].data == {"zone": "lot", "label": "car", "dwell_s": 3.0, "lost": True}
    assert tracker.zone_counts == {"lot": {"entered": 0, "exited": 0}}


def test_line_counts_crossings_by_direction_with_default_names():
    gate = LineSpec(name="gate", start=(300, 0), end=(300, 600))  # upright line
    assert gate.direction_names() == ("leftward", "rightward")
    tracker = ZoneTracker(lines=[gate])
    events = run(tracker, range(100, 500, 25))  # left → right
    events += run(tracker, range(500, 100, -25), oid=2)  # right → left
    assert [(e.objects, e.data["direction"]) for e in events] == [((1,), "rightward"), ((2,), "leftward")]
    assert tracker.counts == {"gate": {"leftward": 1, "rightward": 1}}
    level = LineSpec(name="stop", start=(0, 300), end=(600, 300), directions=("in", "out"))
    assert level.direction_names() == ("in", "out")
    assert LineSpec(name="s", start=(0, 300), end=(600, 300)).direction_names() == ("downward", "upward")


def test_jitter_on_the_line_is_counted_once():
    gate = LineSpec(name="gate", start=(300, 0), end=(300, 600), margin=4.0, confirm_frames=2)
    tracker = ZoneTracker(lines=[gate])
    rng = np.random.default_rng(7)
    # Approach, then shake on the line for 4 s: the centre hops across it by ±3 px every frame
    # and sometimes by ±6 px for a single frame; then walk on to the right.
    xs = list(range(200, 296, 8))
    for k in range(40):
        xs.append(300 + (6 if k % 7 == 3 else 3) * (1 if rng.random() < 0.5 else -1))
    xs += list(range(305, 420, 8))
    events = run(tracker, xs)
    assert [e.data["direction"] for e in events] == ["rightward"]
    assert tracker.counts["gate"] == {"leftward": 0, "rightward": 1}


def test_jitter_without_debounce_would_double_count():
    # The same shaking with no dead band and no debounce counts every hop: the guard is real.
    gate = LineSpec(name="gate", start=(300, 0), end=(300, 600), margin=0.0, margin_size=0.0, confirm_frames=1)
    tracker = ZoneTracker(lines=[gate])
    xs = [290, 295, 303, 297, 304, 296, 310]
    assert len(run(tracker, xs)) == 5


def test_passing_beside_the_end_of_a_line_is_not_a_crossing():
    gate = LineSpec(name="gate", start=(300, 0), end=(300, 200))
    tracker = ZoneTracker(lines=[gate])
    assert run(tracker, range(100, 500, 25), bottom=500) == []  # centre at y=450, below the line's end


def test_anchor_decides_what_crosses():
    # A level line at y=300; the box's bottom crosses it long before its top does.
    bottom_line = ZoneTracker(lines=[LineSpec(name="l", start=(0, 300), end=(600, 300), anchor="bottom")])
    top_line = ZoneTracker(lines=[LineSpec(name="l", start=(0, 300), end=(600, 300), anchor="top")])
    bottoms = [280, 290, 310, 320, 330, 340]  # box 100 tall: top from 180 to 240, never past 300
    for k, b in enumerate(bottoms):
        e1 = bottom_line.update(k / 10, [1], ["person"], np.array([box_at(100, b).as_xyxy()]))
        e2 = top_line.update(k / 10, [1], ["person"], np.array([box_at(100, b).as_xyxy()]))
        assert e2 == []
        if e1:
            assert e1[0].data["direction"] == "downward"
    assert bottom_line.counts["l"]["downward"] == 1


def test_bad_zone_and_line_specs():
    with pytest.raises(ValidationError, match="at least 3 points"):
        ZoneSpec(name="z", polygon=[(0, 0), (1, 1)])
    with pytest.raises(ValidationError, match="same point"):
        LineSpec(name="l", start=(5, 5), end=(5, 5))
    with pytest.raises(ValidationError, match="anchor"):
        LineSpec(name="l", start=(0, 0), end=(5, 5), anchor="feet")
    with pytest.raises(ValueError, match="unique"):
        ZoneTracker([ZoneSpec(name="z", polygon=[(0, 0), (1, 0), (1, 1)])] * 2)
