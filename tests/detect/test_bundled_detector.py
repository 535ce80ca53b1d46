"""The bundled ``street-objects`` detector on frames held out by time (never trained on, never
used for early stopping), scored against the hand-made boxes of ``tracks-shared.json``: what
benchmarks/detect.py measures, asserted with margins. Needs ../shared/data (skipped without)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_file

from drid.detect.exported import ExportedDetector
from drid.detect.people import HogPeopleDetector
from drid.eval.groundtruth import bundled_groundtruth, load_groundtruth
from drid.eval.metrics import detection_ap
from drid.schemas import Frame

CLIP = "intel-sample-videos/one-by-one-person-detection.mp4"
HELD_OUT = range(1165, 1301, 4)  # the last visitor, never seen in training (scripts/make_detector_model.py)


@pytest.fixture(scope="module")
def frames():
    path = shared_file(CLIP)
    gt, _ = load_groundtruth(bundled_groundtruth("tracks-shared"))
    clip = next(c for c in gt.tracking_clips() if c.video.endswith(CLIP))
    cap = cv2.VideoCapture(str(path))
    out = []
    for n in HELD_OUT:
        if n not in set(int(f) for f in clip.frames):
            continue
        cap.set(cv2.CAP_PROP_POS_FRAMES, n)
        ok, image = cap.read()
        assert ok
        m = (clip.truth.frame == n) & (clip.truth.label == "person")
        out.append((n, image, np.asarray(clip.truth.box[m], float).reshape(-1, 4), np.asarray(clip.truth.ignore[m], bool)))
    cap.release()
    assert len(out) >= 20
    return out


def person_ap(detector, frames) -> float:
    rows = []
    for n, image, truth, ignore in frames:
        found = [d for d in detector.drid_detect(Frame(index=n, timestamp=n / 10, source=CLIP, image=image)) if d.label == "person"]
        boxes = np.array([d.box.as_xyxy() for d in found]).reshape(-1, 4)
        rows.append((boxes, np.array([d.score for d in found]), truth, ignore))
    return detection_ap(rows).ap50


def test_bundled_detector_finds_the_held_out_visitor_where_hog_finds_no_one(frames):
    bundled = person_ap(ExportedDetector(model="street-objects"), frames)
    hog = person_ap(HogPeopleDetector(), frames)
    assert bundled >= 0.75, bundled  # measured 0.90 on these frames' neighbours (benchmarks/detect.py)
    assert bundled > hog + 0.5, (bundled, hog)
