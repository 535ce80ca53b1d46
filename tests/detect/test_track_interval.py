"""``interval: N`` on a detect entry: the detector runs on every Nth frame of each source and the
``track`` wrapper carries its boxes in between (DeepStream's ``interval``)."""

from __future__ import annotations

import numpy as np
import pytest

from drid import Frame, Pipeline
from drid.errors import ConfigError
from drid.pipeline.config import PipelineConfig
from drid.testing import CollectSink, ListSource

LIGHT_BLOBS = {"plugin": "blobs", "params": {"polarity": "light"}}


def square_frames(n: int, source: str = "", fps: float = 20) -> list[Frame]:
    """A white 20×20 square moving right 4 px per frame on black."""
    frames = []
    for i in range(n):
        image = np.zeros((60, 200, 3), dtype=np.uint8)
        image[20:40, 10 + 4 * i:30 + 4 * i] = 255
        frames.append(Frame(index=i, timestamp=i / fps, source=source, image=image))
    return frames


def test_a_detector_every_third_frame_and_the_tracker_carries_its_boxes():
    sink = CollectSink()
    with Pipeline(source=ListSource(square_frames(24)), detect=[{**LIGHT_BLOBS, "interval": 3}, "track"], sinks=[sink]) as pipe:
        pipe.run()
    assert pipe.summary.stages["detect"].plugins["blobs"].calls == 8  # frames 0, 3, …, 21
    records = sink.records
    skipped = [r.frame.meta.get("detect_skipped") for r in records]
    assert skipped == [None if i % 3 == 0 else ["blobs"] for i in range(24)]
    # confirmed at frame 3 (0.15 s ≥ confirm_s), then one id on every frame, detected or carried
    assert all(len(r.detections) == 1 and r.detections[0].track_id == 1 for r in records[3:])
    for i, r in enumerate(records[3:], start=3):
        d = r.detections[0]
        assert d.meta.get("carried", False) == (i % 3 != 0)
        assert d.plugin == "blobs"  # a carried box names the detector whose track it is
        assert abs(d.box.x1 - (10 + 4 * i)) <= 2.5  # the Kalman prediction follows the square


def test_interval_counts_the_frames_of_each_source():
    frames = [f for pair in zip(square_frames(8, "cam-a"), square_frames(8, "cam-b")) for f in pair]
    sink = CollectSink()
    Pipeline(source=ListSource(frames), detect=[{**LIGHT_BLOBS, "interval": 2}, "track"], sinks=[sink]).run()
    for r in sink.records:  # each camera's detector runs on its frames 0, 2, 4, 6
        assert (r.frame.meta.get("detect_skipped") is None) == (r.frame.index % 2 == 0)
    ids = {s: {d.track_id for r in sink.records if r.frame.source == s for d in r.detections if d.track_id} for s in ("cam-a", "cam-b")}
    assert len(ids["cam-a"]) == len(ids["cam-b"]) == 1 and ids["cam-a"] != ids["cam-b"]


def test_a_tracker_that_loses_nothing_while_its_detector_sleeps():
    # A tentative track is carried too: with interval 4 at 20 fps the square still gets its id
    # on the detector's second frame, and no frame counts as a miss.
    sink = CollectSink()
    Pipeline(source=ListSource(square_frames(20)), detect=[{**LIGHT_BLOBS, "interval": 4}, "track"], sinks=[sink]).run()
    first = next(i for i, r in enumerate(sink.records) if r.detections and r.detections[0].track_id)
    assert first == 4
    assert {d.track_id for r in sink.records[4:] for d in r.detections} == {1}


def test_interval_is_for_detectors_only():
    with pytest.raises(ConfigError, match=r"interval"):
        Pipeline(source=ListSource(square_frames(2)), detect=[LIGHT_BLOBS, {"plugin": "track", "interval": 2}])
    with pytest.raises(ConfigError, match=r"detect entries only"):
        Pipeline(source=ListSource(square_frames(2)), detect=[LIGHT_BLOBS], sinks=[{"plugin": "jsonl", "params": {"path": "-"}, "interval": 2}])
    with pytest.raises(ConfigError, match=r"detect\[0\]\.interval"):
        PipelineConfig.parse({"source": {"plugin": "video", "params": {"path": "clip.mp4"}}, "detect": [{**LIGHT_BLOBS, "interval": 0}]})
