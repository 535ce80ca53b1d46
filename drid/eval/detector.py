"""Evaluate a detector plugin against hand-made ground truth (the library of ``drid eval detector``).

Boxes are matched by IoU (``match_boxes``), lines (lanes) by their mean horizontal distance;
per label the report gives true and false positives, misses, precision, recall, F1, COCO-style
AP (101 recall points) at the IoU threshold (AP@0.5 by default) and over IoU 0.5…0.95
(AP@[.5:.95], boxes only), and the mean IoU of the matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drid.errors import ConfigError
from drid.eval.groundtruth import GroundTruth, ImageTruth, load_groundtruth, resolve_image
from drid.eval.metrics import COCO_IOU_THRESHOLDS, Counts, interpolated_ap, line_distance, match_boxes, match_thresholds
from drid.pipeline.engine import Pipeline
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.registry import hooks_of
from drid.schemas import Detection, Frame
from drid.sources.media import to_bgr

__all__ = ["EvalReport", "ImageResult", "LabelResult", "evaluate_detector", "make_detector"]


@dataclass
class LabelResult:
    """One label's totals over every image."""

    label: str
    counts: Counts = field(default_factory=Counts)
    scores: list[float] = field(default_factory=list)
    hits: list[bool] = field(default_factory=list)
    ious: list[float] = field(default_factory=list)  # IoU (boxes) or distance in pixels (lines) of each true positive
    lines: bool = False
    # boxes: every detection's score and its outcome at each of COCO_IOU_THRESHOLDS (a T-vector)
    coco_scores: list[float] = field(default_factory=list)
    coco_codes: list[np.ndarray] = field(default_factory=list)

    @property
    def ap(self) -> float:
        """COCO-style (101-point) AP at the report's threshold."""
        return float(interpolated_ap(self.scores, np.asarray(self.hits, dtype=np.int8), self.counts.n_truth)[0])

    @property
    def ap_50_95(self) -> float | None:
        """COCO's AP@[.5:.95] (boxes; ``None`` for lines)."""
        if self.lines:
            return None
        codes = np.stack(self.coco_codes, axis=1) if self.coco_codes else np.zeros((len(COCO_IOU_THRESHOLDS), 0), np.int8)
        return float(interpolated_ap(self.coco_scores, codes, self.counts.n_truth).mean())

    @property
    def mean_match(self) -> float | None:
        return float(np.mean(self.ious)) if self.ious else None

    def as_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "label": self.label, "kind": "line" if self.lines else "box", "truth": c.n_truth, "tp": c.tp, "fp": c.fp, "fn": c.fn,
            "precision": c.precision, "recall": c.recall, "f1": c.f1, "ap": self.ap, "ap_50_95": self.ap_50_95,
            ("mean_distance_px" if self.lines else "mean_iou"): self.mean_match,
        }


@dataclass
class ImageResult:
    """What the detector did on one ground-truth image."""

    truth: ImageTruth
    path: Path | None
    detections: list[Detection] = field(default_factory=list)
    outcome: list[str] = field(default_factory=list)  # per detection: tp, fp, ignored, or "" (label not evaluated)
    match: list[float] = field(default_factory=list)  # per detection: IoU or line distance of its match
    missed: list[str] = field(default_factory=list)  # labels of the objects and lines nothing found
    seconds: float = 0.0
    scored: bool = False  # False: not available, or not annotated for the evaluated labels

    @property
    def available(self) -> bool:
        return self.path is not None


@dataclass
class EvalReport:
    detector: str
    groundtruth: str
    iou_threshold: float
    line_tolerance: float
    labels: list[str]
    per_label: dict[str, LabelResult]
    images: list[ImageResult]

    @property
    def skipped(self) -> list[str]:
        return [r.truth.image for r in self.images if not r.available]

    def as_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector, "groundtruth": self.groundtruth, "iou_threshold": self.iou_threshold,
            "line_tolerance_px": self.line_tolerance, "labels": self.labels,
            "per_label": [r.as_dict() for r in self.per_label.values()],
            "images": [
                {"image": r.truth.image, "available": r.available, "scored": r.scored, "seconds": r.seconds,
                 "detections": [{"label": d.label, "score": d.score, "box": list(d.box.as_xyxy()), "outcome": o, "match": m}
                                for d, o, m in zip(r.detections, r.outcome, r.match)],
                 "missed": r.missed}
                for r in self.images
            ],
            "skipped": self.skipped,
        }

    def table(self) -> str:
        lines = [f"detector {self.detector} on {self.groundtruth} (boxes: IoU >= {self.iou_threshold}; lines: within {self.line_tolerance:g} px)", ""]
        for r in self.images:
            name = r.truth.image
            if not r.available:
                lines.append(f"  {name}: not available here, skipped")
                continue
            if not r.scored:
                lines.append(f"  {name}: not annotated for {', '.join(self.labels)}")
                continue
            evaluated = [(d, o, m) for d, o, m in zip(r.detections, r.outcome, r.match) if o]
            found = ", ".join(f"{d.label} {d.score:.2f} {o}" + (f" {m:.2f}" if o == "tp" else "") for d, o, m in evaluated) or "nothing"
            miss = f"; missed {', '.join(r.missed)}" if r.missed else ""
            lines.append(f"  {name} ({r.seconds * 1e3:.0f} ms): {found}{miss}")
        head = f"{'label':<12} {'truth':>5} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7} {'f1':>6} {'AP@' + format(self.iou_threshold, 'g'):>7} {'AP@[.5:.95]':>11} {'match':>7}"
        lines += ["", head, "-" * len(head)]
        for res in self.per_label.values():
            c = res.counts
            m = "" if res.mean_match is None else (f"{res.mean_match:.1f}px" if res.lines else f"{res.mean_match:.2f}")
            coco = "" if res.ap_50_95 is None else f"{res.ap_50_95:.3f}"
            lines.append(f"{res.label:<12} {c.n_truth:>5} {c.tp:>4} {c.fp:>4} {c.fn:>4} {c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f} {res.ap:>7.3f} {coco:>11} {m:>7}")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} image(s) not available here")
        return "\n".join(lines)


def make_detector(name: str, params: dict[str, Any] | None = None) -> Any:
    """A detector plugin instance from its registered name and parameters (validated)."""
    from drid.pipeline.registry import default_registry

    info = default_registry().get(name, path="--detector")
    if "detect" not in info.roles:
        raise ConfigError(f"plugin '{name}' is not a detector (it can be used as: {', '.join(info.roles) or 'nothing'})", path="--detector")
    return info.instantiate(params or {}, path="--param")


class _Frames:
    """The source of one evaluation run: the ground-truth frames, in order."""

    drid_name = "groundtruth"

    def __init__(self, frames: list[Frame]) -> None:
        self.frames = frames

    @hookimpl
    def drid_frames(self) -> list[Frame]:
        return self.frames


def _plugins(detector: Any) -> list[Any]:
    """The plugins of the detect stage: one detector, or a list (wrappers such as ``track`` with
    the detectors they wrap)."""
    return list(detector) if isinstance(detector, (list, tuple)) else [detector]


def evaluate_detector(detector: Any, groundtruth: GroundTruth | str | Path, *, labels: list[str] | None = None, iou_threshold: float = 0.5,
                      line_tolerance: float = 20.0, base: Path | None = None, name: str | None = None) -> EvalReport:
    """Run ``detector`` (a plugin instance with ``drid_detect``, or a list of them for the detect
    stage, such as a ``track`` wrapper with its detector) on every available image of the ground
    truth and score it. The detector runs in a real ``Pipeline`` (its hooks are called as in any
    run); each video clip of the truth starts a new run, so it starts from a clean slate.
    ``labels`` restricts the evaluation (default: the detectors' ``labels`` attributes when they
    have them, else every label they output or the truth holds)."""
    where = "ground truth"
    if not isinstance(groundtruth, GroundTruth):
        where = str(groundtruth)
        groundtruth, base = load_groundtruth(groundtruth)
    base = base or Path.cwd()
    plugins = _plugins(detector)
    # a wrapper's ``labels`` (track's) say what it handles, not what the stage outputs
    outputs = [p for p in plugins if not hooks_of(p).get("drid_detect", {}).get("wrapper")]
    declared = list(labels) if labels else list(dict.fromkeys(label for p in outputs for label in (getattr(p, "labels", None) or [])))
    images: list[ImageResult] = []
    # Runs of frames: a video clip begins a new run (drid_start again); stills join the run before.
    runs: list[list[tuple[Frame, ImageResult]]] = [[]]
    for index, truth in enumerate(groundtruth.images):
        path = resolve_image(truth.image, base)
        result = ImageResult(truth=truth, path=path)
        images.append(result)
        if path is None or (declared and not any(truth.covers(label) for label in declared)):
            continue  # not here, or annotated for other labels only: nothing to score
        result.scored = True
        frames = _video_frames(path, truth, where, index) if truth.frame is not None else [(0.0, _read_image(path, where, index))]
        image = frames[-1][1]
        if truth.size is not None and (image.shape[1], image.shape[0]) != tuple(truth.size):
            raise ConfigError(f"'{path}' is {image.shape[1]}x{image.shape[0]}, the ground truth says {truth.size[0]}x{truth.size[1]}",
                              path=f"images[{index}].size", where=where)
        if truth.frame is not None and runs[-1]:
            runs.append([])
        runs[-1] += [(Frame(index=n, timestamp=timestamp, source=str(path), image=pixels), result) for n, (timestamp, pixels) in enumerate(frames)]
    for run in runs:
        if not run:
            continue
        pipe = Pipeline(source=_Frames([frame for frame, _ in run]), detect=plugins, name="eval")
        for record, (_, result) in zip(pipe, run):
            result.detections = list(record.detections)  # the image's last frame counts
            result.seconds = record.timings_ms.get("detect", 0.0) / 1e3

    chosen = declared or sorted(groundtruth.labels() | {d.label for r in images for d in r.detections})
    per_label = {label: LabelResult(label) for label in chosen}
    for r in images:
        if not r.scored:
            continue
        r.outcome = [""] * len(r.detections)
        r.match = [0.0] * len(r.detections)
        for label, res in per_label.items():
            if not r.truth.covers(label):
                continue
            mine = [i for i, d in enumerate(r.detections) if d.label == label]
            objects = [o for o in r.truth.objects if o.label == label]
            lines = [line for line in r.truth.lines if line.label == label]
            if lines:
                res.lines = True
                _score_lines(r, res, mine, lines, line_tolerance)
            else:
                _score_boxes(r, res, mine, objects, iou_threshold)
    return EvalReport(detector=name or "+".join(type(p).__name__ for p in plugins), groundtruth=where, iou_threshold=iou_threshold,
                      line_tolerance=line_tolerance, labels=chosen, per_label=per_label, images=images)


def _read_image(path: Path, where: str, index: int) -> np.ndarray:
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ConfigError(f"cannot decode image '{path}'", path=f"images[{index}].image", where=where)
    return to_bgr(raw)


def _video_frames(path: Path, truth: ImageTruth, where: str, index: int) -> list[tuple[float, np.ndarray]]:
    """Frames ``from_frame`` … ``frame`` of a video, with their timestamps."""
    assert truth.frame is not None
    first = truth.from_frame if truth.from_frame is not None else truth.frame
    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        if first:
            cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        frames = []
        for number in range(first, truth.frame + 1):
            ok, image = cap.read()
            if not ok or image is None:
                raise ConfigError(f"cannot read frame {number} of '{path}'", path=f"images[{index}].frame", where=where)
            frames.append((number / fps, to_bgr(image)))
        return frames
    finally:
        cap.release()


def _score_boxes(r: ImageResult, res: LabelResult, mine: list[int], objects: list[Any], iou_threshold: float) -> None:
    dets = [r.detections[i] for i in mine]
    det_boxes = np.array([d.box.as_xyxy() for d in dets]).reshape(-1, 4)
    gt_boxes = np.array([o.box for o in objects], dtype=np.float64).reshape(-1, 4)
    ignore = [o.ignore for o in objects]
    m = match_boxes(det_boxes, [d.score for d in dets], gt_boxes, ignore, iou_threshold)
    codes = match_thresholds(det_boxes, [d.score for d in dets], gt_boxes, ignore, COCO_IOU_THRESHOLDS)
    res.coco_scores += [d.score for d in dets]
    res.coco_codes += list(codes.T)
    counted = Counts(tp=m.outcome.count("tp"), fp=m.outcome.count("fp"), n_truth=m.n_truth)
    res.counts.add(counted)
    for i, outcome, iou, d in zip(mine, m.outcome, m.iou, dets):
        r.outcome[i], r.match[i] = outcome, iou
        if outcome == "ignored":
            continue
        res.scores.append(d.score)
        res.hits.append(outcome == "tp")
        if outcome == "tp":
            res.ious.append(iou)
    r.missed += [objects[j].label for j in m.missed]


def _score_lines(r: ImageResult, res: LabelResult, mine: list[int], lines: list[Any], tolerance: float) -> None:
    taken: set[int] = set()
    res.counts.n_truth += len(lines)
    for i in sorted(mine, key=lambda k: -r.detections[k].score):
        d = r.detections[i]
        distances = [line_distance(d.polyline, line.points) if d.polyline and j not in taken else float("inf") for j, line in enumerate(lines)]
        j = int(np.argmin(distances))
        hit = distances[j] <= tolerance
        if hit:
            taken.add(j)
            res.ious.append(distances[j])
        res.counts.tp += hit
        res.counts.fp += not hit
        r.outcome[i], r.match[i] = ("tp" if hit else "fp"), (distances[j] if np.isfinite(distances[j]) else -1.0)
        res.scores.append(d.score)
        res.hits.append(hit)
    r.missed += [lines[j].label for j in range(len(lines)) if j not in taken]


# -- drawing the outcome (--show) ------------------------------------------------------------------


def draw_outcome(r: ImageResult) -> np.ndarray:
    """The image with the ground truth (white, dashed for ignore) and the detections (green: true
    positive, red: false positive, grey: ignored or not evaluated)."""
    from drid.sinks.draw import draw_polyline, draw_text, font_scale

    assert r.path is not None
    if r.truth.frame is not None:
        image = _video_frames(r.path, r.truth.model_copy(update={"from_frame": None}), "", 0)[-1][1]
    else:
        image = _read_image(r.path, "", 0)
    scale = font_scale(image)
    for o in r.truth.objects:
        x1, y1, x2, y2 = (int(round(v)) for v in o.box)
        cv2.rectangle(image, (x1, y1), (x2, y2), (255, 255, 255), 1 if o.ignore else 2, cv2.LINE_AA)
        draw_text(image, f"truth: {o.label}{' (ignore)' if o.ignore else ''}", (x1, y2 + 14), (0, 0, 0), scale * 0.6, background=(255, 255, 255))
    for line in r.truth.lines:
        draw_polyline(image, line.points, (255, 255, 255), 2)
    colours = {"tp": (60, 200, 60), "fp": (40, 40, 230)}
    for d, outcome, m in zip(r.detections, r.outcome, r.match):
        colour = colours.get(outcome, (150, 150, 150))
        if d.polyline:
            draw_polyline(image, d.polyline, colour, 3)
            x, y = d.polyline[-1]
            draw_text(image, f"{d.label} {outcome} {m:.0f}px", (int(x), int(y) - 6), (255, 255, 255), scale * 0.6, background=colour)
            continue
        x1, y1, x2, y2 = (int(round(v)) for v in d.box.as_xyxy())
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2, cv2.LINE_AA)
        draw_text(image, f"{d.label} {d.score:.2f} {outcome or '-'}" + (f" IoU {m:.2f}" if outcome == "tp" else ""), (x1, y1 - 4), (255, 255, 255), scale * 0.6, background=colour)
    return image
