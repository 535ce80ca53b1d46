"""drid's learned detector, trained for real on a short clip with a small budget: a student
learns from a motion teacher's pseudo-labels and finds the person the teacher loses when she
stands still; its saved file, its TFLite export and the ``detector`` plugin agree."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file

from drid.schemas import iou_matrix

SIZE = (128, 96)
CLIP = "intel-sample-videos/one-by-one-person-detection.mp4"
#: Frames 100–175 of the clip: a woman stands still at the table (she walks in over 60–96 and
#: leaves over 180–200). Boxes read off a 50-pixel grid by hand (frame pixels, 768×432).
STANDING = {110: [388, 14, 514, 392], 130: [388, 14, 514, 392], 150: [388, 14, 514, 392], 170: [388, 14, 514, 392]}


def _recall(found: dict[int, np.ndarray], iou: float = 0.5) -> float:
    hits = [bool(len(found[f]) and iou_matrix(found[f], np.array([box], float)).max() >= iou) for f, box in STANDING.items()]
    return sum(hits) / len(hits)


pytestmark = pytest.mark.slow  # one real training run (about 2 minutes on a busy 2-core machine), shared by the tests below


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    from drid.detect.learned.pseudo import DEFAULT_TEACHER, pseudo_label
    from drid.detect.learned.train import train_detector
    from drid.eval.samples import score_samples

    clip = shared_file(CLIP)
    labels = pseudo_label(DEFAULT_TEACHER, [clip], SIZE, label_map={"motion": "person"}, start=60, stop=200)
    out = tmp_path_factory.mktemp("student")
    result = train_detector(labels.samples, labels.classes, out, name="student", input_size=SIZE, width=0.5, epochs=12, steps_per_epoch=10,
                            batch_size=8, learning_rate=4e-3, patience=100, val_fraction=0.0, score=score_samples, tflite=True, progress=False, seed=0)
    return clip, labels, result


def test_pseudo_labels_keep_only_persistent_tracks(student):
    _, labels, _ = student
    assert labels.classes == ["person"]
    assert labels.stats["tracks kept"] >= 1 and labels.stats["short tracks dropped"] >= 1
    assert all(len(t.frames) >= 8 for t in labels.tracks)
    # the teacher never labels the standing frames: what the student finds there it learned from the walking ones
    labelled = {s.frame for s in labels.samples if len(s.boxes)}
    assert labelled and not labelled & set(range(100, 176))


def test_the_loss_falls_and_the_bundle_is_complete(student):
    _, _, result = student
    loss = result.history["loss"]
    assert np.mean(loss[-3:]) < 0.5 * np.mean(loss[:2])
    for suffix in (".keras", ".json", ".labels.txt", ".card.md", ".curves.png", ".tflite"):
        assert result.model_path.with_suffix(suffix).is_file()
    assert "AP@0.5" in result.card_path.read_text()


def test_student_beats_its_teacher_on_the_frames_where_she_stands_still(student):
    import cv2

    from drid.detect.learned.backend import KerasCenterNet
    from drid.detect.learned.encoding import letterbox
    from drid.detect.learned.pseudo import DEFAULT_TEACHER, teacher_config
    from drid.pipeline.engine import Pipeline

    clip, _, result = student
    teacher: dict[int, np.ndarray] = {}
    with Pipeline.from_config(teacher_config(DEFAULT_TEACHER, clip, start=60, stop=176)) as pipe:
        for record in pipe:
            n = int(str(record.frame.meta["position"]))
            if n in STANDING:
                teacher[n] = np.array([d.box.as_xyxy() for d in record.detections if d.track_id is not None]).reshape(-1, 4)
    backend = KerasCenterNet(result.model_path)
    found = {}
    cap = cv2.VideoCapture(str(clip))
    for n in STANDING:
        cap.set(cv2.CAP_PROP_POS_FRAMES, n)
        image = cap.read()[1]
        canvas, lb = letterbox(image[:, :, ::-1], backend.input_size)
        boxes, scores, _ = backend.predict(canvas[None])[0]
        found[n] = lb.to_image(boxes[scores >= 0.3])
    cap.release()
    # Recall at IoU 0.3: the student's boxes inherit the motion teacher's looseness (a walking
    # person's mask is wider and taller than she is), so at IoU 0.5 this short run is not reliable
    # (measured 0.5 and 0 of the four frames in two runs); the teacher finds nothing at either.
    assert _recall(teacher, iou=0.3) == 0.0
    assert _recall(found, iou=0.3) >= 0.75


def test_tflite_export_decodes_to_the_same_boxes_as_keras(student):
    import cv2
    import tensorflow as tf

    from drid.detect.learned.backend import KerasCenterNet
    from drid.detect.learned.encoding import letterbox

    clip, _, result = student
    backend = KerasCenterNet(result.model_path)
    interpreter = tf.lite.Interpreter(model_path=str(result.tflite_path), num_threads=1)
    run = interpreter.get_signature_runner()
    cap = cv2.VideoCapture(str(clip))
    for n in (90, 150, 190):
        cap.set(cv2.CAP_PROP_POS_FRAMES, n)
        canvas, _ = letterbox(cap.read()[1][:, :, ::-1], backend.input_size)
        k_boxes, k_scores, k_cls = backend.predict(canvas[None])[0]
        raw = run(image=canvas[None])
        # the TF Object Detection API's order: boxes, classes, scores, count
        out = dict(zip(("boxes", "classes", "scores", "count"), (raw[k] for k in sorted(raw))))
        count = int(out["count"][0])
        t_scores = out["scores"][0, :count]
        ymin, xmin, ymax, xmax = out["boxes"][0, :count].T
        w, h = backend.input_size
        t_boxes = np.stack([xmin * w, ymin * h, xmax * w, ymax * h], axis=1)
        strong = k_scores >= 0.1
        assert strong.any()
        for box, score, cls in zip(k_boxes[strong], k_scores[strong], k_cls[strong]):
            j = int(np.argmin(np.abs(t_boxes - box).sum(axis=1)))
            np.testing.assert_allclose(t_boxes[j], box, atol=0.5)
            assert abs(t_scores[j] - score) < 2e-3 and int(out["classes"][0, j]) == cls
        assert abs(count - int((k_scores >= 0.05).sum())) <= 1
    cap.release()


def test_the_detector_plugin_loads_the_keras_file_and_the_tflite_export(student):
    exported = pytest.importorskip("drid.detect.exported.plugin", reason="the detector plugin (helper detector-formats) is not in this tree")
    import cv2

    from drid.schemas import Frame

    clip, _, result = student
    cap = cv2.VideoCapture(str(clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 150)
    frame = Frame(index=0, timestamp=0.0, source=str(clip), image=cap.read()[1])
    cap.release()
    boxes = {}
    for fmt, path in (("keras", result.model_path), ("tflite", result.tflite_path)):
        plugin = exported.ExportedDetector(model=str(path), format=fmt, score_threshold=0.1)
        found = plugin.detect_many([frame])[0]
        assert found and all(d.label == "person" for d in found)
        boxes[fmt] = np.array([d.box.as_xyxy() for d in found])
    assert iou_matrix(boxes["keras"][:1], boxes["tflite"][:1])[0, 0] > 0.98


def test_train_detector_command_on_drid_ground_truth(tmp_path, capsys):
    """The command end to end on package-shipped frames (bikes.mp4's street shot, hand-made car
    boxes), with a budget that only proves the plumbing: bundle, card and scores are written."""
    from drid.cli import main
    from drid.eval.groundtruth import bundled_groundtruth

    args = ["train", "detector", str(bundled_groundtruth("tracks-packaged")), "--classes", "car", "--size", "128x64", "--width", "0.5",
            "--epochs", "2", "--steps", "2", "--batch-size", "4", "--block", "10", "--gap", "2", "--no-tflite", "--no-progress",
            "--out", str(tmp_path), "--name", "cars"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "car: held-out AP@0.5" in out and (tmp_path / "cars.card.md").is_file()
    meta = __import__("json").loads((tmp_path / "cars.json").read_text())
    assert meta["labels"] == ["car"] and meta["split"]["validation"] > 0 and meta["split"]["train"] > 0
