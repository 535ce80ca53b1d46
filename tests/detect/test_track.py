"""The ``track`` wrapper: SORT-style ids and velocities (pixels/s) from frame timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from drid import Detection, Frame, Pipeline, hookimpl
from drid.detect.track import KalmanBoxFilter, Tracker
from drid.schemas import BoundingBox
from drid.testing import CollectSink, ListSource, detection


def det(x: float, y: float, label: str = "car", **kw) -> Detection:
    """A 40×40 detection whose top-left corner is at ``(x, y)``."""
    return detection((x, y, x + 40, y + 40), label, score=1.0, **kw)


def test_constant_velocity_gives_one_id_and_the_speed_in_pixels_per_second():
    tracker = Tracker(min_hits=2)
    ids, last = [], None
    for i in range(30):
        t = i * 0.04  # 25 frames/s, 120 px/s to the right, 40 px/s down
        (last,) = tracker.update(t, [det(10 + 120 * t, 50 + 40 * t)])
        ids.append(last.track_id)
    assert ids[0] is None  # born tentative
    assert set(ids[1:]) == {1}
    assert last is not None and last.velocity is not None
    vx, vy = last.velocity
    assert vx == pytest.approx(120, rel=0.05) and vy == pytest.approx(40, rel=0.1)


def test_velocity_follows_timestamps_not_frame_counts():
    slow, fast = Tracker(), Tracker()
    for i in range(20):
        (a,) = slow.update(i * 0.1, [det(10 + 5 * i, 50)])
        (b,) = fast.update(i * 0.01, [det(10 + 5 * i, 50)])
    assert a.velocity is not None and b.velocity is not None
    assert a.velocity[0] == pytest.approx(50, rel=0.05)
    assert b.velocity[0] == pytest.approx(500, rel=0.05)


def test_two_objects_crossing_keep_their_ids():
    tracker = Tracker(min_hits=1)
    history: dict[int | None, list[float]] = {}
    for i in range(40):
        t = i / 25
        a = det(20 + 8 * i, 100)  # left to right
        b = det(340 - 8 * i, 118)  # right to left, overlapping a in the middle
        for d in tracker.update(t, [b, a] if i % 2 else [a, b]):
            history.setdefault(d.track_id, []).append(d.box.center[0])
    assert set(history) == {1, 2}
    for xs in history.values():
        steps = np.diff(xs)
        assert np.all(steps > 0) or np.all(steps < 0), "an id switched objects"


def test_birth_needs_min_hits_and_death_comes_after_max_age():
    tracker = Tracker(min_hits=3, max_age=2)
    out = [tracker.update(i * 0.1, [det(50 + i, 50)])[0].track_id for i in range(4)]
    assert out == [None, None, 1, 1]
    for i in range(4, 6):  # missed twice: still alive
        assert tracker.update(i * 0.1, []) == []
    assert tracker.update(0.6, [det(56, 50)])[0].track_id == 1
    for i in range(7, 10):  # missed three times: dead
        tracker.update(i * 0.1, [])
    assert tracker.tracks == []
    assert [tracker.update(1.0 + i * 0.1, [det(60, 50)])[0].track_id for i in range(3)] == [None, None, 2]


def test_labels_lines_and_label_matching():
    tracker = Tracker(min_hits=1, labels=["car"])
    lane = detection((0, 0, 10, 100), "lane-left", score=1.0, polyline=((0, 100), (10, 0)))
    for i in range(3):
        out = tracker.update(i * 0.1, [det(10, 10), det(10, 10, label="person"), lane])
    car, person, line = out
    assert car.track_id == 1 and person.track_id is None and line.track_id is None
    mixed = Tracker(min_hits=1)
    mixed.update(0, [det(10, 10, label="car")])
    (other,) = mixed.update(0.04, [det(10, 10, label="person")])
    assert other.track_id == 2  # same place, other label: a new track
    agnostic = Tracker(min_hits=1, match_labels=False)
    agnostic.update(0, [det(10, 10, label="car")])
    assert agnostic.update(0.04, [det(10, 10, label="person")])[0].track_id == 1


def test_kalman_filter_predicts_along_the_velocity():
    kf = KalmanBoxFilter(np.array([100.0, 100.0, 20.0, 20.0]))
    for i in range(1, 10):
        kf.predict(0.1)
        kf.update(np.array([100.0 + 10 * i, 100.0, 20.0, 20.0]))
    assert kf.predict(0.1)[0] == pytest.approx(200, abs=2)
    assert kf.velocity[0] == pytest.approx(100, rel=0.05)


class Squares:
    """A detector that reports the bright square of drid.testing-like frames."""

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        assert frame.image is not None
        ys, xs = np.nonzero(frame.image[:, :, 0])
        return [Detection(box=BoundingBox(x1=xs.min(), y1=ys.min(), x2=xs.max() + 1, y2=ys.max() + 1), label="square")]


def square_frames(n: int) -> list[Frame]:
    frames = []
    for i in range(n):
        image = np.zeros((60, 200, 3), dtype=np.uint8)
        image[20:40, 10 + 4 * i:30 + 4 * i] = 255
        frames.append(Frame(index=i, timestamp=i / 20, image=image))
    return frames


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_tracker_wraps_the_detect_stage_in_a_pipeline(mode):
    sink = CollectSink()
    with Pipeline(source=ListSource(square_frames(20)), detect=[Squares(), ("track", {"min_hits": 2})], sinks=[sink], mode=mode) as pipe:
        pipe.run()
    ids = [r.detections[0].track_id for r in sink.records]
    assert ids[0] is None and set(ids[1:]) == {1}
    velocity = sink.records[-1].detections[0].velocity
    assert velocity is not None and velocity[0] == pytest.approx(80, rel=0.05)  # 4 px per 1/20 s
    assert sink.records[-1].detections[0].plugin == "squares"  # attribution survives the wrapper
    assert pipe.summary.stages["detect"].plugins["track"].calls == 20


def test_tracker_restarts_with_each_run():
    tracker = Tracker(min_hits=1)
    for _ in range(2):
        sink = CollectSink()
        Pipeline(source=ListSource(square_frames(3)), detect=[Squares(), tracker], sinks=[sink]).run()
        assert [r.detections[0].track_id for r in sink.records] == [1, 1, 1]
