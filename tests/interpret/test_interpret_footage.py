"""Interpretation on tracks from real footage (../shared/data; skipped cleanly when absent):
cars crossing the parking lot are counted in the right direction, and a person walking up to the
table is seen approaching it. Detections come from the ``motion`` detector and the ``track``
wrapper, with their parameters pinned here."""

from __future__ import annotations

import pytest
from conftest import shared_file

from drid import Pipeline
from drid.testing import CollectSink

pytestmark = pytest.mark.slow


def run(path, detect, interpret, **source):
    sink = CollectSink()
    Pipeline(source=("video", {"path": str(path), **source}), detect=detect, interpret=interpret, sinks=[sink]).run()
    return sink.records


def test_cars_crossing_the_parking_lot_are_counted_by_direction():
    clip = shared_file("intel-sample-videos/car-detection.mp4")
    # Top-down view, 768×432: cars drive up or down the lot, one or two at a time. Looking at
    # the clip: a white car drives up, then a grey car comes down while a red one drives up
    # beside it (the grey one on the left), then a white car comes down — 2 up, 2 down.
    records = run(
        clip,
        detect=[("motion", {"min_area": 1500, "detect_shadows": True}), ("track", {"min_hits": 2, "max_age": 5})],
        interpret=[("relations", {
            "temporal": {"min_frames": 3},
            "lines": [{"name": "middle", "start": [0, 216], "end": [768, 216]}],
            # A known distance: the first car, a Prius (4.46 m long), spans y 52-297 in frame 82.
            "calibration": {"known_distance": {"start": [350, 52], "end": [350, 297], "metres": 4.46}},
        })],
    )
    crossings = [e for r in records for e in r.scene.events if e.name == "crossed_line"]
    assert [e.data["direction"] for e in crossings] == ["upward", "downward", "upward", "downward"]
    assert len({e.objects[0] for e in crossings}) == 4  # four different cars, each counted once
    assert crossings[-1].data["count"] == 2
    facts = [f for r in records for f in r.scene.facts]
    assert sum("crossed line 'middle'" in f for f in facts) == 4
    # While the grey car (down) and the red car (up) are both in view, the grey one is on the left.
    down, up = crossings[1].objects[0], crossings[2].objects[0]
    both = [r for r in records if {down, up} <= {o.id for o in r.scene.objects if o.attributes.get("confirmed")}]
    assert len(both) >= 10
    lefts = [r for r in both if any((x.subject, x.predicate, x.object) == (down, "left_of", up) for x in r.scene.relations)]
    rights = [r for r in both if any((x.subject, x.predicate, x.object) == (down, "right_of", up) for x in r.scene.relations)]
    assert len(lefts) >= len(both) // 2 and not rights
    # Calibrated speeds are parking-lot speeds (the median over each car's moving frames).
    for car in {e.objects[0] for e in crossings}:
        kmh = sorted(o.attributes["speed_km_h"] for r in records for o in r.scene.objects if o.id == car and o.attributes.get("moving"))
        assert 3.0 < kmh[len(kmh) // 2] < 25.0
    assert any(" m/s" in f for f in facts)
    # Their headings agree with the counted directions (90° is up the image, 270° down).
    def median_heading(car):
        h = sorted(o.attributes["heading_deg"] for r in both for o in r.scene.objects if o.id == car and o.attributes.get("moving"))
        return h[len(h) // 2]

    assert 45 < median_heading(up) < 135 and 225 < median_heading(down) < 315


def test_someone_approaches_the_table():
    clip = shared_file("intel-sample-videos/one-by-one-person-detection.mp4")
    # 768×432 from behind and above; the small round table stands at x 390–520, y 80–330. In
    # frames 735–800 a man in black walks in from the bottom left up to the table.
    table = [390, 80, 520, 330]
    records = run(
        clip,
        detect=[("motion", {"min_area": 3000, "label": "person"}), ("track", {"min_hits": 2, "max_age": 5})],
        interpret=[("relations", {
            "temporal": {"min_frames": 3},
            "landmarks": [{"label": "table", "box": table}],
            # The floor in front of the table, where his feet stand (y 380-430 at frames 760-800).
            "zones": [{"name": "at_table", "polygon": [[330, 330], [580, 330], [580, 432], [330, 432]]}],
        })],
        start=735, stop=800,
    )
    approaching: dict[int, list[int]] = {}
    for r in records:
        for rel in r.scene.relations:
            if rel.predicate == "approaching" and rel.object == -1:
                approaching.setdefault(rel.subject, []).append(r.frame.index)
    walker = max(approaching, key=lambda k: len(approaching[k]))
    assert len(approaching[walker]) >= 4
    entered = [r.frame.index for r in records for e in r.scene.events if e.name == "entered_zone" and e.objects == (walker,)]
    assert entered and min(approaching[walker]) < entered[0]  # seen approaching before reaching it
    facts = [f for r in records for f in r.scene.facts]
    assert f"person {walker} is walking towards the table" in " | ".join(facts)
    assert f"person {walker} entered zone 'at_table'" in facts
    # The walker's feet get closer to the table's foot while it approaches.
    def gap(r):
        o = next(o for o in r.scene.objects if o.id == walker)
        return abs((o.box.x1 + o.box.x2) / 2 - 455) + abs(o.box.y2 - 330)

    seen = [r for r in records if any(o.id == walker for o in r.scene.objects)]
    assert gap(seen[-1]) < gap(seen[0])
