"""Counting semantics as properties (hypothesis): a crossing is counted once however the box
jitters on the line; hysteresis by distance past the line (pixels or box sizes) and by frames
inside a zone; counts per class and per source; a track split into two ids by an occlusion is
counted once when the new id continues the lost one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from drid.interpret.interpreters import RelationsInterpreter
from drid.interpret.zones import CountingParams, LineSpec, ZoneSpec, ZoneTracker
from drid.testing import box_at, scene_object

FPS = 10.0
H = 100.0  # box height: the default dead band is max(4 px, 0.1 x 100 px) = 10 px
LEVEL = LineSpec(name="door", start=(0, 300), end=(800, 300))  # crossing it downwards is "downward"


def centre_box(y: float, x: float = 400.0, h: float = H) -> np.ndarray:
    """A 40 x ``h`` box whose centre (the line's default anchor) is at height ``y``."""
    return np.array([[x - 20, y - h / 2, x + 20, y + h / 2]])


def feed(tracker: ZoneTracker, ys, oid: int = 1, label: str = "person", t0: int = 0, h: float = H):
    events = []
    for k, y in enumerate(ys):
        events += tracker.update((t0 + k) / FPS, [oid], [label], centre_box(y, h=h))
    return events


def approach(start: float, stop: float, step: float = 12.0) -> list[float]:
    return list(np.arange(start, stop, step if stop > start else -step))


jitter_step = st.one_of(
    st.floats(-10.0, 10.0),  # inside the dead band: never a side
    st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(10.5, 80.0)).map(lambda s: s[0] * s[1]),  # a lone hop past it
)


@settings(max_examples=150, deadline=None)
@given(jitter=st.lists(jitter_step, max_size=60), goes_on=st.booleans(), x_noise=st.lists(st.floats(-15, 15), min_size=1, max_size=5))
def test_jitter_on_the_line_never_changes_the_count(jitter, goes_on, x_noise):
    # No two hops past the band in a row: two frames on the far side are a real crossing.
    shaken = [0.0 if k and abs(j) > 10 and abs(jitter[k - 1]) > 10 else j for k, j in enumerate(jitter)]
    ys = approach(180, 300) + [300 + j for j in shaken] + (approach(312, 420) if goes_on else approach(288, 180))
    tracker = ZoneTracker(lines=[LEVEL])
    events = []
    for k, y in enumerate(ys):
        x = 400 + x_noise[k % len(x_noise)]
        events += tracker.update(k / FPS, [1], ["person"], centre_box(y, x=x))
    assert [e.data["direction"] for e in events] == (["downward"] if goes_on else [])
    assert tracker.counts["door"] == {"downward": int(goes_on), "upward": 0}


@settings(max_examples=60, deadline=None)
@given(trips=st.lists(st.booleans(), min_size=1, max_size=6))
def test_every_real_crossing_is_counted_once_in_its_direction(trips):
    # Walking back and forth through the door: each passage is one count, in its direction.
    ys, y, expected = [], 180.0, {"downward": 0, "upward": 0}
    for down in trips:
        target = 420.0 if down else 180.0
        if (target > y) == down and target != y:
            ys += approach(y, target)
            expected["downward" if down else "upward"] += 1
            y = target
    tracker = ZoneTracker(lines=[LEVEL])
    feed(tracker, ys + [y] * 3)
    assert tracker.counts["door"] == expected


def test_hysteresis_is_a_distance_past_the_line_in_pixels_or_box_sizes():
    # 20 px past the line and back: less than a tall box's dead band (0.1 x 300 = 30 px), more
    # than a short one's (max(4, 0.1 x 50) = 5 px).
    there_and_back = approach(200, 300, 10) + [320.0] * 4 + approach(300, 200, 10)
    tall, short = ZoneTracker(lines=[LEVEL]), ZoneTracker(lines=[LEVEL])
    assert feed(tall, there_and_back, h=300) == []
    assert [e.data["direction"] for e in feed(short, there_and_back, h=50)] == ["downward", "upward"]
    # A fixed margin in pixels alone (margin_size 0) treats both alike.
    fixed = LineSpec(name="door", start=(0, 300), end=(800, 300), margin=25.0, margin_size=0.0)
    assert feed(ZoneTracker(lines=[fixed]), there_and_back, h=300) == []
    assert feed(ZoneTracker(lines=[fixed]), there_and_back, h=50) == []


def test_a_track_first_seen_past_the_line_did_not_cross_in_view():
    tracker = ZoneTracker(lines=[LEVEL])
    assert feed(tracker, approach(330, 430)) == []


@settings(max_examples=80, deadline=None)
@given(runs=st.lists(st.tuples(st.booleans(), st.integers(1, 6)), min_size=1, max_size=12), confirm=st.integers(1, 4))
def test_a_zone_is_entered_after_confirm_frames_inside(runs, confirm):
    # Runs of frames outside/inside a zone: an entry (or exit) counts only once the anchor has
    # stayed on its new side confirm_frames frames in a row. Reference: the same rule, spelled out.
    zone = ZoneSpec(name="mat", polygon=[(300, 250), (500, 250), (500, 350), (300, 350)], confirm_frames=confirm)
    frames = [False] * 2 + [inside for inside, n in runs for _ in range(n)]
    tracker = ZoneTracker(zones=[zone])
    events = []
    for k, inside in enumerate(frames):
        events += tracker.update(k / FPS, [1], ["person"], np.array([box_at(400 if inside else 100, 300).as_xyxy()]))
    state, streak, expected = False, 0, []
    for inside in frames:
        streak = streak + 1 if inside != state else 0
        if streak >= confirm:
            state, streak = inside, 0
            expected.append("entered_zone" if inside else "exited_zone")
    assert [e.name for e in events] == expected
    assert tracker.zone_counts["mat"] == {"entered": expected.count("entered_zone"), "exited": expected.count("exited_zone")}


def test_counts_per_class():
    tracker = ZoneTracker(lines=[LEVEL, LineSpec(name="cars_only", start=(0, 300), end=(800, 300), labels="car")])
    ys = approach(180, 420)
    for k, y in enumerate(ys):
        boxes = np.vstack([centre_box(y, x=200), centre_box(y, x=500), centre_box(600 - y, x=650)])
        tracker.update(k / FPS, [1, 2, 3], ["person", "car", "car"], boxes)
    assert tracker.counts == {"door": {"downward": 2, "upward": 1}, "cars_only": {"downward": 1, "upward": 1}}
    assert tracker.counts_by_label["door"] == {"downward": {"person": 1, "car": 1}, "upward": {"car": 1}}
    assert tracker.counts_by_label["cars_only"] == {"downward": {"car": 1}, "upward": {"car": 1}}


def test_counts_per_source_never_mix():
    # Two cameras, frames interleaved, the same track id on both: camera A sees id 1 walk down,
    # camera B sees its own id 1 walk up. Shared state would see id 1 jump between the two
    # positions every frame (and count it again and again).
    rel = RelationsInterpreter(lines=[{"name": "door", "start": [0, 300], "end": [800, 300]}])
    down, up = approach(180, 420), approach(420, 180)
    crossings: dict[str, list[str]] = {"a": [], "b": []}
    for k in range(len(down)):
        for source, y in (("a", down[k]), ("b", up[k])):
            box = centre_box(y)[0]
            scene = rel.interpret(k / FPS, [scene_object(1, "person", tuple(box))], source=source)
            crossings[source] += [str(e.data["direction"]) for e in scene.events if e.name == "crossed_line"]
    assert crossings == {"a": ["downward"], "b": ["upward"]}
    assert rel.counts() == {"a": {"door": {"downward": 1, "upward": 0}}, "b": {"door": {"downward": 0, "upward": 1}}}


@settings(max_examples=120, deadline=None)
@given(split=st.integers(2, 19), gap=st.integers(0, 9), new_id=st.integers(2, 10_000), already=st.booleans())
def test_a_track_split_by_an_occlusion_is_counted_once(split, gap, new_id, already):
    # One person walks down through the door; an occlusion of `gap` frames (up to 1 s at 10 fps)
    # makes the tracker lose id 1 (seen at least 3 frames: confirmed) and start `new_id`, anywhere
    # along the walk.
    ys = approach(180, 420) + [408.0] * 3  # crossing between the 10th and 11th position, then standing
    if already:  # the split happens after the crossing was counted
        split = max(split, 12)
    first, second = ys[:split + 1], ys[split + 1 + gap:]
    tracker = ZoneTracker(lines=[LEVEL])
    events = feed(tracker, first, oid=1) + feed(tracker, second, oid=new_id, t0=split + 1 + gap)
    crossings = [e for e in events if e.name == "crossed_line"]
    assert [e.data["direction"] for e in crossings] == ["downward"]
    assert tracker.counts["door"] == {"downward": 1, "upward": 0}
    if second:
        assert tracker.handovers == [(1, new_id)]


def test_no_handover_to_another_class_a_distant_box_or_after_handover_s():
    ys = approach(180, 420, 6)  # 40 positions, on the line at the 21st
    for second_label, x, gap in (("car", 400, 2), ("person", 700, 2), ("person", 400, 15)):
        tracker = ZoneTracker(lines=[LEVEL])
        feed(tracker, ys[:18], oid=1)  # lost just before the line
        tracker.update((18 + gap) / FPS, [2], [second_label], centre_box(ys[18 + gap], x=x))
        feed(tracker, ys[19 + gap:], oid=2, label=second_label, t0=19 + gap)
        assert tracker.handovers == [] and tracker.counts["door"]["downward"] == 0  # id 2 was not seen crossing
    # handover_s = 0 turns it off.
    tracker = ZoneTracker(lines=[LEVEL], counting=CountingParams(handover_s=0))
    feed(tracker, ys[:9], oid=1)
    feed(tracker, ys[10:], oid=2, t0=10)
    assert tracker.handovers == []


def test_a_handed_over_track_keeps_its_time_in_a_zone():
    zone = ZoneSpec(name="mat", polygon=[(300, 250), (500, 250), (500, 350), (300, 350)])
    tracker = ZoneTracker(zones=[zone])
    for k in range(10):
        tracker.update(k / FPS, [1], ["person"], np.array([box_at(100 + 40 * min(k, 7), 300).as_xyxy()]))
    entered = tracker.zones_of(1, 1.0)["mat"]
    tracker.update(1.3, [5], ["person"], np.array([box_at(380, 300).as_xyxy()]))
    assert tracker.zones_of(5, 1.3)["mat"] == round(entered + 0.3, 3)  # the same visit goes on
    assert tracker.zone_counts["mat"]["entered"] == 1


def test_relations_counts_a_split_track_once_behind_confirmation():
    # Through the whole interpreter: the new id is confirmed (min_frames sightings) before it
    # takes part in counting; the lost one is still remembered, so it hands its state over.
    rel = RelationsInterpreter(lines=[{"name": "door", "start": [0, 300], "end": [800, 300]}])
    ys = approach(180, 420, 8)
    names = []
    for k, y in enumerate(ys):
        if 13 <= k <= 15:
            continue  # occluded
        oid = 1 if k < 13 else 2
        scene = rel.interpret(k / FPS, [scene_object(oid, "person", tuple(centre_box(y)[0]))])
        names += [e.name for e in scene.events]
    assert names.count("crossed_line") == 1
    assert "continued" in names
    assert rel.counts() == {"": {"door": {"downward": 1, "upward": 0}}}


def test_an_object_that_vanished_standing_still_keeps_its_identity():
    # A person walks in and stops (a background model absorbs them: no more sightings); 20 s
    # later a new track is born where they stood: the same object, one identity. Someone born
    # far from there is someone else.
    rel = RelationsInterpreter()
    identity: dict[int, object] = {}

    def see(k: int, oid: int, x: float) -> None:
        scene = rel.interpret(k / FPS, [scene_object(oid, "person", tuple(box_at(x, 400).as_xyxy()))])
        for o in scene.objects:
            if o.attributes.get("confirmed"):
                identity[o.id] = o.attributes["identity"]

    for k in range(50):
        see(k, 1, 100 + 10 * min(k, 20))  # walks to x = 300 and stands there 3 s
    for k in range(230, 260):
        see(k, 2, 300 + 10 * (k - 230))  # moves on from where they stood
    for k in range(500, 530):
        see(k, 3, 700 - 10 * (k - 500))  # someone new, far from where anyone vanished
    assert identity == {1: 1, 2: 1, 3: 3}
