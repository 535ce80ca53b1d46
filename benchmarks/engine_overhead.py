"""Engine overhead: a four-stage pipeline against a hand-written loop calling the same functions.

Prints frames/s of both, the per-frame overhead of the engine in µs and the ratio, for
  * no-op plugins (the pure cost of the engine: dispatch, validation, attribution, stats, records),
  * cheap NumPy plugins (a realistic small workload),
  * sleeping plugins in concurrent mode, against the slowest stage's own throughput.
Targets (issue 2): sequential overhead < 30 µs/frame (≥ 30,000 frames/s with no-op plugins on one
core); concurrent within 10 % of the slowest stage when stages sleep or release the GIL.

    python benchmarks/engine_overhead.py [--frames N] [--repeats R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from drid import BoundingBox, Decision, Detection, Frame, Pipeline, Recognition, Scene, hookimpl
from drid.schemas import build_objects
from drid.testing import ListSource

SCENE = Scene()
DECISION = Decision(action=0)


class NoopDetect:
    @hookimpl
    def drid_detect(self, frame):
        return []


class NoopRecognize:
    @hookimpl
    def drid_recognize(self, frame, detections):
        return []


class NoopInterpret:
    @hookimpl
    def drid_interpret(self, frame, objects):
        return SCENE


class NoopDecide:
    @hookimpl
    def drid_decide(self, frame, scene):
        return DECISION


def np_detect(frame):
    img = frame.image
    col = img[:, :, 1].mean(axis=0)
    x = int(np.argmax(col))
    return [Detection(box=BoundingBox(x1=x, y1=0, x2=x + 4, y2=img.shape[0]), label="peak", score=0.5)]


def np_recognize(frame, detections):
    return [Recognition(detection=i, label="bright" if frame.image[..., 2].mean() > 100 else "dark", score=0.9) for i, _ in enumerate(detections)]


def np_interpret(frame, objects):
    return Scene(features=np.array([o.box.center[0] / frame.width for o in objects]))


def np_decide(frame, scene):
    return Decision(action=int(scene.features[0] > 0.5) if scene.features is not None and len(scene.features) else 0)


class NpDetect:
    @hookimpl
    def drid_detect(self, frame):
        return np_detect(frame)


class NpRecognize:
    @hookimpl
    def drid_recognize(self, frame, detections):
        return np_recognize(frame, detections)


class NpInterpret:
    @hookimpl
    def drid_interpret(self, frame, objects):
        return np_interpret(frame, objects)


class NpDecide:
    @hookimpl
    def drid_decide(self, frame, scene):
        return np_decide(frame, scene)


def make_sleeper(hook: str, seconds: float):
    class Sleeper:
        drid_name = f"sleep-{hook}"

    def detect(self, frame):
        time.sleep(seconds)
        return []

    def recognize(self, frame, detections):
        time.sleep(seconds)
        return []

    def interpret(self, frame, objects):
        time.sleep(seconds)
        return SCENE

    def decide(self, frame, scene):
        time.sleep(seconds)
        return DECISION

    fn = {"detect": detect, "recognize": recognize, "interpret": interpret, "decide": decide}[hook]
    fn.__name__ = f"drid_{hook}"
    setattr(Sleeper, f"drid_{hook}", hookimpl(fn))
    return Sleeper()


def frames(n: int, size: tuple[int, int] = (48, 64)) -> list[Frame]:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(16)]
    return [Frame(index=i, source="bench", image=images[i % 16]) for i in range(n)]


def hand_loop(fs: list[Frame], det, rec, interp, dec) -> float:
    t0 = time.perf_counter()
    for f in fs:
        d = det(f)
        r = rec(f, d)
        s = interp(f, list(build_objects(d, r)))
        dec(f, s)
    return time.perf_counter() - t0


def engine(fs: list[Frame], plugins: list, mode: str) -> float:
    pipe = Pipeline(source=ListSource(fs), detect=[plugins[0]], recognize=[plugins[1]], interpret=[plugins[2]], decide=plugins[3], mode=mode, queue_size=8)
    t0 = time.perf_counter()
    summary = pipe.run()
    elapsed = time.perf_counter() - t0
    assert summary.frames_out == len(fs)
    return elapsed


def best(fn, repeats: int) -> float:
    return min(fn() for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    fs = frames(args.frames)
    n = len(fs)

    print(f"{n} frames, best of {args.repeats}\n")
    print(f"{'workload':<10} {'mode':<11} {'loop f/s':>10} {'engine f/s':>11} {'overhead µs/frame':>18} {'engine/loop':>12}")
    noop_fns = (lambda f: [], lambda f, d: [], lambda f, o: SCENE, lambda f, s: DECISION)
    np_fns = (np_detect, np_recognize, np_interpret, np_decide)
    for label, fns, plugins in (("no-op", noop_fns, lambda: [NoopDetect(), NoopRecognize(), NoopInterpret(), NoopDecide()]),
                                ("numpy", np_fns, lambda: [NpDetect(), NpRecognize(), NpInterpret(), NpDecide()])):
        t_loop = best(lambda fns=fns: hand_loop(fs, *fns), args.repeats)
        for mode in ("sequential", "concurrent"):
            t_eng = best(lambda plugins=plugins, mode=mode: engine(fs, plugins(), mode), args.repeats)
            print(f"{label:<10} {mode:<11} {n / t_loop:>10,.0f} {n / t_eng:>11,.0f} {(t_eng - t_loop) / n * 1e6:>18.1f} {t_loop / t_eng:>12.2f}")

    # Concurrent mode with stages that sleep (release the GIL): the slowest stage sets the pace.
    print()
    costs = {"detect": 0.004, "recognize": 0.002, "interpret": 0.001, "decide": 0.002}
    m = 300
    few = fs[:m]
    t_slowest = best(lambda: _alone(few, costs["detect"]), args.repeats)
    t_seq = best(lambda: _sleepers(few, costs, "sequential"), 1)
    t_con = best(lambda: _sleepers(few, costs, "concurrent"), args.repeats)
    print(f"sleeping stages {costs} (ms x1000), {m} frames")
    print(f"  slowest stage alone      {m / t_slowest:8.1f} frames/s")
    print(f"  sequential engine        {m / t_seq:8.1f} frames/s  (sum of stage costs)")
    print(f"  concurrent engine        {m / t_con:8.1f} frames/s  = {t_slowest / t_con:.3f} of the slowest stage, {t_seq / t_con:.2f}x sequential")


def _alone(fs: list[Frame], seconds: float) -> float:
    t0 = time.perf_counter()
    for _ in fs:
        time.sleep(seconds)
    return time.perf_counter() - t0


def _sleepers(fs: list[Frame], costs: dict[str, float], mode: str) -> float:
    plugins = [make_sleeper(h, s) for h, s in costs.items()]
    return engine(fs, plugins, mode)


if __name__ == "__main__":
    main()
