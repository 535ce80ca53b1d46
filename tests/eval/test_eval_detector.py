"""drid.eval: matching and metrics on hand-checked numbers, the ground-truth format, and
`drid eval detector` on the ground truth drid ships."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED_DATA

from drid import ConfigError
from drid.cli import main
from drid.eval import Counts, average_precision, bundled_groundtruth, evaluate_detector, line_distance, load_groundtruth, make_detector, match_boxes
from drid.eval.groundtruth import resolve_image


def test_match_boxes_greedy_by_score_with_ignored_truth():
    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], dtype=float)
    dets = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 30, 12], [40, 0, 50, 10], [100, 100, 110, 110]], dtype=float)
    m = match_boxes(dets, [0.9, 0.95, 0.5, 0.7, 0.6], gt, [False, False, True], 0.5)
    # the 0.95 box takes the first object; the 0.9 duplicate is a false positive
    assert m.outcome == ("fp", "tp", "tp", "ignored", "fp")
    assert m.gt_of[:4] == (-1, 0, 1, 2)
    assert m.n_truth == 2 and m.missed == ()
    assert m.iou[1] == pytest.approx(90 / 110)
    none = match_boxes(np.zeros((0, 4)), [], gt, [], 0.5)
    assert none.outcome == () and none.missed == (0, 1, 2)


def test_counts_and_average_precision():
    c = Counts(tp=3, fp=1, n_truth=4)
    assert (c.precision, c.recall, c.fn) == (0.75, 0.75, 1)
    assert c.f1 == pytest.approx(0.75)
    # ranked tp, fp, tp with 2 objects: precision 1 at recall .5, 2/3 at recall 1 → AP = .5 + .5·2/3
    assert average_precision([0.9, 0.8, 0.7], [True, False, True], 2) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision([0.9, 0.8], [True, True], 4) == pytest.approx(0.5)
    assert average_precision([], [], 3) == 0.0
    assert Counts(n_truth=0).precision == 1.0 and Counts(fp=2).precision == 0.0


def test_line_distance():
    assert line_distance([(0, 100), (100, 0)], [(10, 100), (110, 0)]) == pytest.approx(10)
    assert line_distance([(0, 100), (100, 0)], [(0, 500), (10, 400)]) == float("inf")


def test_groundtruth_files_load_and_name_their_problems(tmp_path):
    gt, base = load_groundtruth(bundled_groundtruth("packaged"))
    assert {"face", "eye", "smile", "motion", "cat-face"} <= gt.labels()
    assert all(resolve_image(i.image, base) is not None for i in gt.images), "packaged images must all be installed"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "drid-groundtruth", "images": [{"image": "a.png", "objects": [{"label": "x", "box": [5, 5, 1, 1]}]}]}))
    with pytest.raises(ConfigError, match=r"bad.json: images\[0\].objects\[0\].box: .*out of order"):
        load_groundtruth(bad)
    bad.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_groundtruth(bad)
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("format: drid-groundtruth\nimages:\n  - image: pic.png\n    frame: 3\n    from_frame: 1\n")
    assert load_groundtruth(yaml_file)[0].images[0].frame == 3
    with pytest.raises(ConfigError, match="bundled"):
        bundled_groundtruth("nope")


def test_face_cascade_scores_on_packaged_ground_truth():
    report = evaluate_detector(make_detector("cascade"), bundled_groundtruth("packaged"))
    face = report.per_label["face"]
    assert report.labels == ["face"]
    # the frontal cascade finds the astronaut and misses the cameraman's profile; no false alarms
    assert (face.counts.tp, face.counts.fp, face.counts.n_truth) == (1, 0, 2)
    assert face.ap == pytest.approx(51 / 101) and face.mean_match > 0.6  # COCO 101-point: recall levels 0 … 0.5 at precision 1
    assert 0 < face.ap_50_95 <= face.ap
    profile = evaluate_detector(make_detector("cascade", {"cascade": "profileface"}), bundled_groundtruth("packaged"))
    assert profile.per_label["face"].counts.tp == 1


def test_motion_scores_on_a_video_frame_of_the_ground_truth():
    params = {"history": 50, "var_threshold": 12, "detect_shadows": False, "kernel": 7, "min_area": 800, "merge_gap": 20, "warmup": 3}
    report = evaluate_detector(make_detector("motion", params), bundled_groundtruth("packaged"))
    motion = report.per_label["motion"]
    assert (motion.counts.tp, motion.counts.fp, motion.counts.n_truth) == (2, 0, 2)


def test_eval_command_prints_the_table_json_and_pictures(capsys, tmp_path):
    assert main(["eval", "detector", "packaged", "--detector", "cascade", "-p", "cascade=eye", "--show", str(tmp_path / "show")]) == 0
    out = capsys.readouterr().out
    assert "astronaut.png" in out and "eye" in out and "AP@0.5" in out and "AP@[.5:.95]" in out
    assert len(list((tmp_path / "show").glob("*.png"))) == 6  # every image annotated for eyes (not the video frame)
    assert main(["eval", "detector", "packaged", "-d", "hog-people", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["per_label"][0]["label"] == "person" and data["skipped"] == []
    assert main(["eval", "detector", "packaged", "-d", "jsonl"]) == 2
    assert "not a detector" in capsys.readouterr().err
    assert main(["eval", "detector", "packaged", "-d", "cascade", "-p", "cascade=nose"]) == 2


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data not available")
def test_detectors_on_the_shared_ground_truth():
    gt = bundled_groundtruth("shared")
    hog = evaluate_detector(make_detector("hog-people"), gt).per_label["person"]
    assert hog.counts.tp >= 3 and hog.ap >= 0.7
    faces = evaluate_detector(make_detector("cascade"), gt).per_label["face"]
    assert faces.counts.tp >= 4 and faces.counts.precision >= 0.75
    lanes = evaluate_detector(make_detector("lanes"), gt)
    for side in ("lane-left", "lane-right"):
        assert lanes.per_label[side].counts.recall == 1.0 and lanes.per_label[side].mean_match < 10
    motion = evaluate_detector(make_detector("motion"), gt).per_label["motion"]
    assert motion.counts.tp == 3 and motion.counts.fp == 0


@pytest.fixture
def square_truth(tmp_path):
    """A picture and its ground truth: one 'thing' at (10, 10, 50, 50), as SubsetDetector finds it."""
    import cv2

    cv2.imwrite(str(tmp_path / "pic.png"), np.full((80, 120, 3), 90, np.uint8))
    truth = {"format": "drid-groundtruth", "images": [{"image": "pic.png", "size": [120, 80], "annotated": ["thing"], "objects": [{"label": "thing", "box": [10, 10, 50, 50]}]}]}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    return tmp_path / "truth.json"


def test_a_detector_whose_hooks_take_a_subset_of_their_arguments_is_evaluated(square_truth, capsys):
    from hook_subsets import SubsetDetector

    detector = SubsetDetector()  # drid_start(self), drid_detect(self), drid_stop(self)
    report = evaluate_detector(detector, square_truth)
    thing = report.per_label["thing"]
    assert report.labels == ["thing"] and (thing.counts.tp, thing.counts.fp, thing.counts.n_truth) == (1, 0, 1)
    assert (detector.started, detector.calls, detector.stopped) == (1, 1, 1)  # run like in any pipeline
    assert main(["eval", "detector", str(square_truth), "--detector", "hook_subsets:SubsetDetector", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["label"], r["tp"], r["fp"]) for r in data["per_label"]] == [("thing", 1, 0)]


def test_a_tracker_is_evaluated_with_the_detector_it_wraps():
    params = {"history": 50, "var_threshold": 12, "detect_shadows": False, "kernel": 7, "min_area": 800, "merge_gap": 20, "warmup": 3}
    report = evaluate_detector([make_detector("track", {"min_hits": 1}), make_detector("motion", params)], bundled_groundtruth("packaged"))
    motion = report.per_label["motion"]
    assert report.labels == ["motion"]  # the detector's labels, not the wrapper's
    assert (motion.counts.tp, motion.counts.fp, motion.counts.n_truth) == (2, 0, 2)
    found = [d for r in report.images for d in r.detections]
    assert found and all(d.track_id is not None and d.plugin == "motion" for d in found)
