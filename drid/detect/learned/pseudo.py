"""Pseudo-labels from a teacher pipeline: learning a detector from unlabelled footage.

The teacher is a real drid pipeline (a config's detect and recognize stages, for example
``motion`` + ``track``) run over each video. Its output is cleaned with hindsight before a
student learns from it:

* only tracks that persist (``min_track`` frames) are kept: a flicker of the background model
  or a one-frame false alarm teaches nothing;
* each kept track's boxes are smoothed along the track (a centred moving median over
  ``smooth`` frames), which removes the jitter of mask-based boxes;
* a track's label is the majority of its labels (a recognizer in the teacher names them; a
  ``label_map`` renames teacher labels, e.g. ``motion`` → ``person``);
* frames without any kept box are used as background examples only when they lie more than
  ``margin_s`` seconds from every kept track (``negatives`` of them at most): near a track, an
  empty teacher frame more likely means the teacher lost an object that stopped than an empty
  scene (people stand still at a table for 15 s in Intel's one-by-one clip). The positive frames
  teach background too: every cell away from the boxes is a negative.

What the student gains is appearance: it sees the object itself, so it finds it where the
teacher cannot (an object standing still, frames before the background model is ready)."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drid.detect.learned.data import Sample, fit_sample

__all__ = ["DEFAULT_TEACHER", "PseudoLabels", "TeacherTrack", "pseudo_label"]

#: The teacher ``drid train detector --teacher default`` uses: moving regions of at least 1500
#: pixels (mot-eval's setting for both Intel clips), parts closer than 40 pixels joined (a
#: person's head and body come apart in the one-by-one clip without it), tracked with
#: ``min_hits: 2, max_age: 5`` (the street pipeline's tracker is 2/4; one more frame of grace
#: keeps a track through the mask's flicker). Chosen by looking at its boxes on one-by-one,
#: car-detection and bikes' street shot.
DEFAULT_TEACHER: dict[str, Any] = {
    "name": "default-teacher",
    "detect": [
        {"plugin": "motion", "params": {"min_area": 1500, "merge_gap": 40}},
        {"plugin": "track", "params": {"min_hits": 2, "max_age": 5}},
    ],
}


@dataclass
class TeacherTrack:
    """One teacher track: its frames and smoothed boxes (frame pixels)."""

    source: str
    track_id: int
    label: str
    frames: np.ndarray
    boxes: np.ndarray


@dataclass
class PseudoLabels:
    """The student's training samples, the classes, and what the teacher did."""

    samples: list[Sample]
    classes: list[str]
    tracks: list[TeacherTrack] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


def teacher_config(config: str | Path | dict[str, Any], video: str | Path, *, start: int = 0, stop: int | None = None) -> dict[str, Any]:
    """The teacher's config with its source replaced by ``video`` and without interpret, decide
    and sinks (only the detect and recognize stages label)."""
    from drid.pipeline.config import read_config_file

    data = copy.deepcopy(config) if isinstance(config, dict) else read_config_file(config)
    if not isinstance(data, dict) or not data.get("detect"):
        raise ValueError(f"teacher config {config if not isinstance(config, dict) else ''} needs a 'detect' stage")
    params: dict[str, Any] = {"path": str(video), "start": start}
    if stop is not None:
        params["stop"] = stop
    out = {k: v for k, v in data.items() if k in ("name", "detect", "recognize", "engine")}
    out["source"] = {"plugin": "video", "params": params}
    return out


def _smooth(boxes: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(boxes) < 3:
        return boxes
    half = window // 2
    padded = np.concatenate([boxes[:1].repeat(half, 0), boxes, boxes[-1:].repeat(half, 0)])
    return np.stack([np.median(padded[i:i + window], axis=0) for i in range(len(boxes))]).astype(np.float32)


def pseudo_label(config: str | Path | dict[str, Any], videos: Iterable[str | Path], input_size: tuple[int, int], *,
                 classes: Sequence[str] | None = None, label_map: dict[str, str] | None = None, min_track: int = 8, smooth: int = 5,
                 every: int = 1, negatives: float = 0.25, margin_s: float = 10.0, start: int = 0, stop: int | None = None,
                 seed: int = 0) -> PseudoLabels:
    """Run the teacher ``config`` over ``videos`` and turn its persistent tracks into training
    samples (see the module docstring). ``every`` keeps every n-th frame as a sample; ``classes``
    fixes the class list (other labels are dropped), else it is the labels found, sorted.

    Detections without a track id count as tracks of one frame, so a teacher without ``track``
    needs ``min_track=1``."""
    from drid.pipeline.engine import Pipeline
    from drid.schemas import build_objects

    rename = label_map or {}
    rng = np.random.default_rng(seed)
    per_video: list[tuple[str, dict[int, np.ndarray], dict[int, float], list[TeacherTrack]]] = []
    stats: Counter[str] = Counter()
    for video in videos:
        source = str(video)
        pipe = Pipeline.from_config(teacher_config(config, video, start=start, stop=stop))
        images: dict[int, np.ndarray] = {}
        times: dict[int, float] = {}
        observed: dict[int, list[tuple[int, np.ndarray, str]]] = defaultdict(list)
        with pipe:
            for record in pipe:
                position = record.frame.meta.get("position")
                n = int(position) if isinstance(position, (int, float)) else start + record.frame.index  # the file's frame number
                stats["frames"] += 1
                times[n] = record.frame.timestamp
                if record.frame.image is not None and (n - start) % every == 0:
                    images[n] = record.frame.image
                for obj in build_objects(record.detections, record.recognitions):
                    stats["teacher boxes"] += 1
                    key = obj.track_id if obj.track_id is not None else -(stats["untracked"] + 1)
                    if obj.track_id is None:
                        stats["untracked"] += 1
                    observed[key].append((n, np.array(obj.box.as_xyxy(), np.float32), rename.get(obj.label, obj.label)))
        tracks = []
        for tid, obs in observed.items():
            if len(obs) < min_track:
                stats["short tracks dropped"] += 1
                continue
            obs.sort(key=lambda o: o[0])
            label = Counter(o[2] for o in obs).most_common(1)[0][0]
            tracks.append(TeacherTrack(source, tid, label, np.array([o[0] for o in obs]), _smooth(np.stack([o[1] for o in obs]), smooth)))
        per_video.append((source, images, times, tracks))

    names = list(classes) if classes else sorted({t.label for _, _, _, ts in per_video for t in ts})
    samples: list[Sample] = []
    all_tracks: list[TeacherTrack] = []
    for source, images, times, tracks in per_video:
        tracks = [t for t in tracks if t.label in names]
        all_tracks += tracks
        boxes_at: dict[int, list[tuple[np.ndarray, int]]] = defaultdict(list)
        for t in tracks:
            for f, b in zip(t.frames, t.boxes):
                boxes_at[int(f)].append((b, names.index(t.label)))
        spans = np.array([(times.get(int(t.frames.min()), 0.0), times.get(int(t.frames.max()), 0.0)) for t in tracks]).reshape(-1, 2)
        empty = []
        for n, image in sorted(images.items()):
            found = boxes_at.get(n)
            if found:
                samples.append(fit_sample(image, np.stack([b for b, _ in found]), [k for _, k in found], input_size, source, n))
                stats["positive frames"] += 1
            elif len(spans) == 0 or bool(np.all((times[n] < spans[:, 0] - margin_s) | (times[n] > spans[:, 1] + margin_s))):
                empty.append(n)
        n_negative = int(round(negatives * stats["positive frames"])) if tracks else len(empty)
        for n in sorted(rng.permutation(empty)[:n_negative].tolist()) if empty else []:
            samples.append(fit_sample(images[n], np.zeros((0, 4)), [], input_size, source, n))
            stats["background frames"] += 1
    stats["tracks kept"] = len(all_tracks)
    return PseudoLabels(samples, names, all_tracks, dict(stats))
