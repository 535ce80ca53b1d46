"""The ``track`` plugin's ByteTrack default: two-stage association, buffers in seconds, tracks per
source, reset, re-identification by appearance and camera-motion compensation.

Scenes are built from real photographs shipped with scikit-image (textures a histogram and optical
flow can work on) with boxes whose truth is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from drid import Detection, Frame, Pipeline, hookimpl
from drid.detect.track import Tracker
from drid.errors import ConfigError
from drid.schemas import BoundingBox
from drid.testing import CollectSink, ListSource, detection


def walker(t: float, score: float = 0.9, visible: float = 1.0) -> Detection:
    """A 40×80 person walking right at 60 px/s; ``visible`` is the part of its height seen."""
    x = 20 + 60 * t
    return detection((x, 100, x + 40, 100 + 80 * visible), "person", score=score)


def ids_over(tracker: Tracker, steps) -> list[tuple[float, int | None]]:
    out = []
    for t, dets in steps:
        for d in tracker.update(t, dets):
            out.append((t, d.track_id))
    return out


def test_a_weak_detection_keeps_the_track_alive_where_sort_loses_it():
    # Behind a parked car from 1.0 s to 2.5 s, only the head and shoulders show: the detector
    # still sees the person, with a weak score (0.2, between low=0.1 and high=0.3).
    def steps():
        for i in range(40):
            t = i / 10
            hidden = 1.0 <= t < 2.5
            yield t, [walker(t, score=0.2 if hidden else 0.9, visible=0.7 if hidden else 1.0)]

    byte = ids_over(Tracker(), steps())
    sort = ids_over(Tracker(algorithm="sort"), steps())
    assert {i for _, i in byte if i} == {1}
    assert all(i == 1 for t, i in byte if t >= 0.1)  # confirmed after 0.1 s, never lost
    # SORT drops what scores below high: 1.5 s unseen is past lost_s, the person comes back new.
    assert {i for _, i in sort if i} == {1, 2}
    assert all(i is None for t, i in sort if 1.0 <= t < 2.5)


def test_weak_detections_never_start_tracks():
    tracker = Tracker()
    for i in range(20):
        out = tracker.update(i / 10, [detection((50, 50, 90, 130), "person", score=0.2)])
    assert out[0].track_id is None and tracker.tracks == []


@pytest.mark.parametrize("fps", [5, 30])
def test_buffers_are_seconds_at_any_frame_rate(fps):
    def run(gap_s: float) -> list[tuple[float, int | None]]:
        steps = []
        for i in range(int(4 * fps)):
            t = i / fps
            steps.append((t, [] if 1.0 <= t < 1.0 + gap_s else [walker(t)]))
        return ids_over(Tracker(), steps)

    held = run(0.8)  # under lost_s = 1 s: the same person
    assert {i for _, i in held if i} == {1}
    first = min(t for t, i in held if i)
    assert 0.1 - 1e-9 <= first <= 0.1 + 1 / fps  # confirm_s = 0.1 s, whatever the frame rate
    gone = run(1.4)  # over lost_s: a new track
    assert {i for _, i in gone if i} == {1, 2}


def test_frame_based_buffers_of_older_configs_still_apply():
    tracker = Tracker(min_hits=3, max_age=1)
    seen = [tracker.update(i / 30, [walker(i / 30)])[0].track_id for i in range(4)]
    assert seen == [None, None, 1, 1]
    tracker.update(4 / 30, [])
    tracker.update(5 / 30, [])  # two misses > max_age 1
    assert tracker.tracks == []


class Squares:
    """Reports the bright squares of a frame, one per connected region."""

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        assert frame.image is not None
        n, _, stats, _ = cv2.connectedComponentsWithStats((frame.image[:, :, 0] > 0).astype(np.uint8))
        return [Detection(box=BoundingBox.from_xywh(*map(float, stats[k, :4])), label="square") for k in range(1, n)]


def test_one_pipeline_over_two_sources_never_mixes_their_ids():
    frames = []
    for i in range(12):
        for source in ("cam-a", "cam-b"):  # the same square at the same place in both cameras
            image = np.zeros((60, 200, 3), dtype=np.uint8)
            image[20:40, 10 + 4 * i:30 + 4 * i] = 255
            frames.append(Frame(index=i, timestamp=i / 10, source=source, image=image))
    sink = CollectSink()
    Pipeline(source=ListSource(frames), detect=[Squares(), "track"], sinks=[sink]).run()
    ids: dict[str, set[int]] = {"cam-a": set(), "cam-b": set()}
    for r in sink.records:
        ids[r.frame.source] |= {d.track_id for d in r.detections if d.track_id}
    assert len(ids["cam-a"]) == 1 and len(ids["cam-b"]) == 1
    assert ids["cam-a"] != ids["cam-b"]


def test_reset_forgets_one_source_or_all():
    tracker = Tracker(confirm_s=0)
    for i in range(3):
        a = tracker.update(i / 10, [walker(i / 10)], source="a")[0].track_id
        b = tracker.update(i / 10, [walker(i / 10)], source="b")[0].track_id
    assert (a, b) == (1, 2)
    tracker.reset("a")
    assert {t.source for t in tracker.tracks} == {"b"}
    assert tracker.update(0.3, [walker(0.3)], source="a")[0].track_id == 3  # ids are not reused
    assert tracker.update(0.3, [walker(0.3)], source="b")[0].track_id == 2
    tracker.reset()
    assert tracker.tracks == [] and tracker.update(0.4, [walker(0.4)], source="b")[0].track_id == 1


def test_thresholds_out_of_order_are_a_config_error():
    with pytest.raises(ConfigError, match="low .* must not exceed high"):
        Tracker(low=0.6, high=0.5)
    with pytest.raises(ConfigError, match="algorithm"):
        Tracker(algorithm="deepsort")


# -- appearance: an occlusion on real textures -----------------------------------------------------
W, H = 60, 90
BACKGROUND = cv2.cvtColor(skimage.data.camera()[96:416, :], cv2.COLOR_GRAY2BGR)
ORANGE = cv2.cvtColor(skimage.data.astronaut()[300:390, 200:260], cv2.COLOR_RGB2BGR)  # the space suit
FUR = cv2.cvtColor(skimage.data.chelsea()[120:210, 180:240], cv2.COLOR_RGB2BGR)  # the cat


def occlusion_scene(fps: float = 10) -> list[tuple[float, np.ndarray, list[tuple[str, Detection]]]]:
    """The suit walks right into a pillar (x 230-300) at 1.6 s, turns round behind it and comes
    back out on the left at 2.6 s, walking left; at that moment the cat steps out on the right,
    exactly where the suit would be had it walked on."""
    scene = []
    for i in range(int(4 * fps)):
        t = i / fps
        image = BACKGROUND.copy()
        placed = [("suit", 40 + 100 * t)] if t < 1.6 else [("suit", 165 - 100 * (t - 2.6)), ("cat", 300 + 100 * (t - 2.6))] if t >= 2.6 else []
        dets = []
        for name, x in placed:
            x = int(round(x))
            image[150:150 + H, x:x + W] = ORANGE if name == "suit" else FUR
            dets.append((name, detection((x, 150, x + W, 150 + H), "person", score=0.9)))
        image[:, 230:300] = 128
        scene.append((t, image, dets))
    return scene


def ids_by_object(tracker: Tracker, scene) -> dict[str, list[int | None]]:
    out: dict[str, list[int | None]] = {}
    for t, image, dets in scene:
        for (name, _), d in zip(dets, tracker.update(t, [d for _, d in dets], image=image)):
            out.setdefault(name, []).append(d.track_id)
    return out


def test_a_colour_histogram_reidentifies_after_an_occlusion():
    scene = occlusion_scene()
    with_cue = ids_by_object(Tracker(appearance="histogram"), scene)
    suit_before, suit_after = with_cue["suit"][1:16], with_cue["suit"][16:]
    assert set(suit_before) == {1} and set(suit_after) == {1}  # the same id, from its first frame back
    assert set(with_cue["cat"][1:]) == {2}
    # Without the cue the cat takes the suit's id at the predicted place and the suit gets a new one.
    without = ids_by_object(Tracker(), scene)
    assert set(without["cat"]) == {1} and set(without["suit"][17:]) == {2}


def test_a_detector_embedding_is_an_appearance_cue():
    tracker = Tracker(appearance="embedding")
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    for i in range(10):
        tracker.update(i / 10, [detection((20 + 10 * i, 50, 60 + 10 * i, 130), "person", meta={"embedding": a})])
    for i in range(10, 15):  # gone for half a second
        tracker.update(i / 10, [])
    # Back far from where it was heading; a stranger stands where the prediction is.
    out = tracker.update(1.5, [detection((60, 50, 100, 130), "person", meta={"embedding": a}),
                               detection((165, 50, 205, 130), "person", meta={"embedding": b})])
    assert out[0].track_id == 1 and out[1].track_id is None
    with pytest.raises(ValueError, match="different lengths"):
        tracker.update(1.6, [detection((60, 50, 100, 130), "person", meta={"embedding": a}), detection((0, 0, 5, 5), "person", meta={"embedding": [1.0]})])


# -- camera-motion compensation --------------------------------------------------------------------
def test_camera_motion_compensation_holds_ids_on_a_shaking_camera():
    world = cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(7)
    scene = []
    for i in range(40):  # a hand-held camera: the view jumps up to 24 px each frame
        ox, oy = 100 + int(rng.integers(-24, 25)), 60 + int(rng.integers(-24, 25))
        image = world[oy:oy + 240, ox:ox + 320].copy()
        dets = [detection((x + 2 * i - ox, y - oy, x + 2 * i - ox + 40, y - oy + 40), "thing") for x, y in [(200, 150), (330, 200), (260, 260)]]
        scene.append((i / 10, image, dets))

    def ids(cmc: str) -> set[int]:
        tracker = Tracker(cmc=cmc)
        return {d.track_id for t, image, dets in scene for d in tracker.update(t, dets, image=image) if d.track_id}

    assert ids("sparse-flow") == {1, 2, 3}
    assert len(ids("none")) > 6  # the boxes jump off their predictions: tracks break


def test_sort_is_still_there_for_comparison():
    tracker = Tracker(algorithm="sort", min_hits=1)
    history: dict[int | None, list[float]] = {}
    for i in range(40):
        a = detection((20 + 8 * i, 100, 60 + 8 * i, 140), "car", score=1.0)
        b = detection((340 - 8 * i, 118, 380 - 8 * i, 158), "car", score=1.0)
        for d in tracker.update(i / 25, [a, b]):
            history.setdefault(d.track_id, []).append(d.box.center[0])
    assert set(history) == {1, 2}
    assert all(np.all(np.diff(xs) > 0) or np.all(np.diff(xs) < 0) for xs in history.values())
