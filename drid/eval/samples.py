"""Ground truth as training samples for drid's learned detector, and AP on held-out samples
(``drid train detector`` and ``scripts/make_detector_model.py``): the eval layer reads drid's
ground-truth format, so the detect stage's training code takes samples, not files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drid.errors import ConfigError
from drid.eval.detector import _read_image
from drid.eval.groundtruth import GroundTruth, load_groundtruth, resolve_image

__all__ = ["groundtruth_samples", "score_samples"]


def groundtruth_samples(groundtruth: GroundTruth | str | Path, input_size: tuple[int, int], *, classes: list[str] | None = None,
                        label_map: dict[str, str] | None = None, frames: Any = None, base: Path | None = None) -> tuple[list[Any], list[str]]:
    """Training samples (``drid.detect.learned.data.Sample``) of a drid ground-truth file: its
    stills and video frames (``images``) and every frame of its tracking ``clips`` that are
    available here (the rest are skipped); ``ignore`` objects stay ignored. ``frames``, a
    callable ``(video, frame) -> bool``, picks clip frames (hold some out by time). With
    ``classes`` other labels are dropped; else the classes are the labels found, in order."""
    from drid.detect.learned.data import fit_sample, read_frame

    where = str(groundtruth) if not isinstance(groundtruth, GroundTruth) else "ground truth"
    if not isinstance(groundtruth, GroundTruth):
        groundtruth, base = load_groundtruth(groundtruth)
    base = base or Path.cwd()
    rename = label_map or {}
    names = list(classes) if classes else []

    def index(label: str) -> int:
        label = rename.get(label, label)
        if label not in names:
            if classes:
                return -1
            names.append(label)
        return names.index(label)

    samples = []
    for i, item in enumerate(groundtruth.images):
        file = resolve_image(item.image, base)
        if file is None:
            continue
        if item.annotated is not None and not any(index(a) >= 0 for a in item.annotated):
            continue
        objects = [(o, index(o.label)) for o in item.objects]
        objects = [(o, k) for o, k in objects if k >= 0]
        image = read_frame(file, item.frame, f"{where}: images[{i}]") if item.frame is not None else _read_image(file, where, i)
        samples.append(fit_sample(image, np.array([o.box for o, _ in objects]).reshape(-1, 4), [k for _, k in objects], input_size,
                                  item.image, item.frame, [o.ignore for o, _ in objects]))
    for clip in groundtruth.tracking_clips() if groundtruth.clips else []:
        file = resolve_image(clip.video, base)
        if file is None:
            continue
        t = clip.truth
        wanted = [int(f) for f in clip.frames if frames is None or frames(clip.video, int(f))]
        if not wanted:
            continue
        cap = cv2.VideoCapture(str(file))
        try:
            cap.set(cv2.CAP_PROP_POS_FRAMES, wanted[0])
            number = wanted[0]
            for f in wanted:
                while number < f:
                    cap.grab()
                    number += 1
                ok, image = cap.read()
                number += 1
                if not ok or image is None:
                    raise ConfigError(f"cannot read frame {f} of '{file}'", where=where)
                here = t.frame == f
                ks = [index(str(label)) for label in t.label[here]]
                keep = np.array([k >= 0 for k in ks], bool)
                samples.append(fit_sample(image, np.asarray(t.box[here], np.float64).reshape(-1, 4)[keep], [k for k in ks if k >= 0], input_size,
                                          clip.video, f, np.asarray(t.ignore[here], bool)[keep]))
        finally:
            cap.release()
    return samples, names


def score_samples(predictions: Any, samples: Any, classes: Any) -> dict[str, Any]:
    """COCO-style AP per class of ``predictions`` (per sample: boxes, scores, class ids) on the
    samples' boxes: ``{class: APResult}`` (the scorer of ``drid.detect.learned.train``)."""
    from drid.eval.metrics import detection_ap

    results = {}
    for k, name in enumerate(classes):
        images = []
        for (boxes, scores, cls), s in zip(predictions, samples):
            mine = np.asarray(cls) == k
            truth = s.classes == k
            images.append((np.asarray(boxes)[mine], np.asarray(scores)[mine], s.boxes[truth], s.ignore[truth]))
        results[name] = detection_ap(images)
    return results
