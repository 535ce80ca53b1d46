"""COCO-style average precision (101 recall points, IoU 0.5…0.95) on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from drid.eval.metrics import COCO_IOU_THRESHOLDS, detection_ap, interpolated_ap, match_boxes, match_thresholds


def test_thresholds_are_cocos():
    assert COCO_IOU_THRESHOLDS.tolist() == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]


def test_interpolated_ap_by_hand():
    # ranked tp, fp, tp with 2 objects: recall .5 .5 1, precision 1 .5 2/3, monotone envelope 1 2/3 2/3.
    # The 51 recall levels 0 … 0.50 read precision 1, the 50 levels 0.51 … 1 read 2/3.
    assert interpolated_ap([0.9, 0.8, 0.7], np.array([1, 0, 1]), 2)[0] == pytest.approx((51 + 50 * 2 / 3) / 101)
    # two hits of four objects, no false alarm: recall reaches .5 only → 51 of 101 levels at precision 1
    assert interpolated_ap([0.9, 0.8], np.array([1, 1]), 4)[0] == pytest.approx(51 / 101)
    # order comes from the scores, not from the list: the false alarm scored highest
    assert interpolated_ap([0.2, 0.9], np.array([1, 0]), 1)[0] == pytest.approx(0.5)
    # ignored detections (-1) count neither way
    assert interpolated_ap([0.9, 0.8, 0.7], np.array([-1, 1, -1]), 1)[0] == pytest.approx(1.0)
    assert interpolated_ap([], np.zeros((1, 0)), 3)[0] == 0.0
    assert interpolated_ap([0.5], np.array([0]), 0)[0] == 0.0  # nothing to find


def test_match_thresholds_agrees_with_match_boxes_at_every_threshold():
    rng = np.random.default_rng(3)
    for _ in range(40):
        gt = rng.uniform(0, 80, (rng.integers(0, 6), 2))
        gt = np.hstack([gt, gt + rng.uniform(8, 30, gt.shape)])
        dets = np.vstack([gt + rng.normal(0, 3, gt.shape), rng.uniform(0, 100, (rng.integers(0, 4), 4))]) if len(gt) else rng.uniform(0, 100, (3, 4))
        dets = np.hstack([np.minimum(dets[:, :2], dets[:, 2:]), np.maximum(dets[:, :2], dets[:, 2:])])
        scores = rng.uniform(0, 1, len(dets))
        ignore = rng.uniform(0, 1, len(gt)) < 0.2
        codes = match_thresholds(dets, scores, gt, ignore)
        for t, thr in enumerate(COCO_IOU_THRESHOLDS):
            expected = match_boxes(dets, scores, gt, ignore, float(thr)).outcome
            assert [{1: "tp", 0: "fp", -1: "ignored"}[int(c)] for c in codes[t]] == list(expected)


def test_detection_ap_over_thresholds_by_hand():
    # one object 0..10 × 0..10; a detection 0..10 × 0..8 has IoU 0.8: a hit at 0.50 … 0.80, a miss above
    gt = np.array([[0, 0, 10, 10]], float)
    result = detection_ap([(np.array([[0, 0, 10, 8]], float), [0.9], gt, [False])])
    assert result.per_threshold == pytest.approx([1.0] * 7 + [0.0] * 3)
    assert result.ap50 == 1.0 and result.ap == pytest.approx(0.7)
    # two images; image 2 has a duplicate (fp at every threshold) ranked below its hit, and one missed object
    images = [
        (np.array([[0, 0, 10, 10]], float), [0.8], gt, [False]),
        (np.array([[20, 20, 40, 40], [21, 20, 40, 40]], float), [0.7, 0.6], np.array([[20, 20, 40, 40], [60, 60, 70, 70]], float), [False, False]),
    ]
    result = detection_ap(images)
    # ranked tp, tp, fp of 3 objects: recall 1/3, 2/3, 2/3 at precision 1, 1, 2/3 → levels 0 … 0.66 (67 of 101) at 1
    assert result.per_threshold[0] == pytest.approx(67 / 101)
    # every box that hits is exact, so AP is the same at every threshold (the duplicate, IoU 0.95, loses to the hit)
    assert result.n_truth == 3 and result.n_detections == 3
    assert result.ap == pytest.approx(67 / 101)
    # a box marked ignore absorbs a detection without penalty
    ignored = detection_ap([(np.array([[0, 0, 10, 10], [50, 50, 60, 60]], float), [0.9, 0.95], np.array([[0, 0, 10, 10], [50, 50, 60, 60]], float), [False, True])])
    assert ignored.ap50 == 1.0 and ignored.n_truth == 1
    with pytest.raises(ValueError, match="0.3 was not evaluated"):
        result.at(0.3)
