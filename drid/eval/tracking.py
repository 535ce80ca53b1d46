"""Evaluate a tracker against hand-made tracking ground truth (the library of ``drid eval tracker``).

For each clip of the ground truth a real ``Pipeline`` reads the clip's video (``video`` source,
from ``from_frame`` to the clip's last frame) through a detect stage that ends in a tracker; the
detections of the annotated frames that carry a ``track_id`` are the tracker's output, scored by
:func:`drid.eval.mot_metrics.evaluate_tracks` (CLEAR MOT, IDF1, HOTA). The totals over all clips are
those of the clips put one after the other (identities kept apart), as TrackEval combines
sequences."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drid.errors import ConfigError
from drid.eval.groundtruth import GroundTruth, TrackingClip, load_groundtruth, resolve_image
from drid.eval.mot import Tracks, read_mot, write_mot
from drid.eval.mot_metrics import TrackingMetrics, evaluate_tracks
from drid.pipeline.config import PipelineConfig, read_config_file
from drid.pipeline.engine import Pipeline

__all__ = ["ClipResult", "TrackerReport", "evaluate_tracker", "mot_groundtruth"]

#: The tracker plugin appended to a detect stage that has none (``tracker=`` names another).
TRACKER = "track"


@dataclass
class ClipResult:
    """One clip: its truth, what the tracker output on its annotated frames, and the scores."""

    clip: TrackingClip
    path: Path | None
    predicted: Tracks = field(default_factory=Tracks.empty)
    metrics: TrackingMetrics | None = None
    detect: list[dict[str, Any]] = field(default_factory=list)  # the detect stage that ran
    seconds: float = 0.0

    @property
    def available(self) -> bool:
        """Whether the clip was scored (its video is here, or a result file was given)."""
        return self.path is not None or self.metrics is not None


@dataclass
class TrackerReport:
    tracker: str
    groundtruth: str
    iou_threshold: float
    clips: list[ClipResult]
    total: TrackingMetrics | None

    @property
    def skipped(self) -> list[str]:
        return [r.clip.title for r in self.clips if not r.available]

    def as_dict(self) -> dict[str, Any]:
        return {
            "tracker": self.tracker, "groundtruth": self.groundtruth, "iou_threshold": self.iou_threshold,
            "clips": [{"clip": r.clip.title, "video": r.clip.video, "available": r.available,
                       "frames": [int(r.clip.frames[0]), int(r.clip.frames[-1])] if len(r.clip.frames) else [],
                       "detect": r.detect, "seconds": r.seconds, "metrics": r.metrics.as_dict() if r.metrics else None}
                      for r in self.clips],
            "total": self.total.as_dict() if self.total else None,
            "skipped": self.skipped,
        }

    def table(self) -> str:
        head = (f"{'clip':<22} {'frames':>6} {'gt':>5} {'ids':>4} {'MOTA':>6} {'MOTP':>5} {'IDF1':>5} {'IDP':>5} {'IDR':>5} {'HOTA':>5} "
                f"{'DetA':>5} {'AssA':>5} {'LocA':>5} {'IDsw':>4} {'Frag':>4} {'FP':>4} {'FN':>4} {'MT':>3} {'PT':>3} {'ML':>3}")
        lines = [f"tracker {self.tracker} on {self.groundtruth} (IoU >= {self.iou_threshold:g} for CLEAR and IDF1; HOTA over α 0.05..0.95)", "",
                 head, "-" * len(head)]
        rows = [(r.clip.title, r.metrics) for r in self.clips if r.metrics is not None]
        if self.total is not None and len(rows) > 1:
            rows.append(("all", self.total))
        for name, m in rows:
            lines.append(f"{name[:22]:<22} {m.num_frames:>6} {m.num_gt:>5} {m.num_gt_ids:>4} {_pct(m.mota):>6} {_pct(m.motp):>5} {_pct(m.idf1):>5} "
                         f"{_pct(m.idp):>5} {_pct(m.idr):>5} {_pct(m.hota):>5} {_pct(m.deta):>5} {_pct(m.assa):>5} {_pct(m.loca):>5} "
                         f"{m.id_switches:>4} {m.fragmentations:>4} {m.fp:>4} {m.fn:>4} {m.mostly_tracked:>3} {m.partially_tracked:>3} {m.mostly_lost:>3}")
        for r in self.clips:
            if not r.available:
                lines.append(f"{r.clip.title}: {r.clip.video} not available here, skipped")
        lines.append("(percentages; MOTP and LocA are mean IoU of the matches)")
        return "\n".join(lines)


def _pct(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:.1f}"


def _detect_stage(pipeline: PipelineConfig | dict[str, Any] | str | Path | None) -> tuple[list[Any] | None, str]:
    """The detect stage of a pipeline config (a file, a mapping or a ``PipelineConfig``), as
    plain specs, and where it came from."""
    if pipeline is None:
        return None, ""
    if isinstance(pipeline, PipelineConfig):
        return [s.model_dump(exclude_none=True) for s in pipeline.detect], pipeline.where
    where = str(pipeline) if isinstance(pipeline, (str, Path)) else ""
    data = read_config_file(pipeline) if isinstance(pipeline, (str, Path)) else copy.deepcopy(pipeline)
    if not isinstance(data, dict) or not data.get("detect"):
        raise ConfigError("the pipeline config has no detect stage to evaluate", path="detect", where=where)
    detect = data["detect"]
    return (list(detect) if isinstance(detect, list) else [detect]), where


def _spec(entry: dict[str, Any] | str) -> dict[str, Any]:
    spec: dict[str, Any] = {"plugin": entry} if isinstance(entry, str) else copy.deepcopy(dict(entry))
    spec["params"] = dict(spec.get("params") or {})
    return spec


def _with_settings(detect: list[Any], settings: list[tuple[str, Any]], where: str, tracker: str = TRACKER) -> list[dict[str, Any]]:
    """The detect stage with the ``tracker`` plugin at its end and ``settings`` applied: ``KEY``
    is a parameter of the tracker, ``PLUGIN.KEY`` one of the stage's plugin ``PLUGIN``."""
    specs = [_spec(e) for e in detect]
    if not any(s.get("plugin") == tracker for s in specs):
        specs.append({"plugin": tracker, "params": {}})
    for key, value in settings:
        plugin, _, name = key.rpartition(".")
        plugin = plugin or tracker
        targets = [s for s in specs if s.get("plugin") == plugin or s.get("name") == plugin]
        if not targets:
            present = ", ".join(str(s.get("plugin")) for s in specs)
            raise ConfigError(f"no plugin '{plugin}' in the detect stage ({present}) to set '{name}' on", path=f"--set {key}", where=where)
        for s in targets:
            s["params"][name] = value
    return specs


def mot_groundtruth(path: str | Path, video: str | Path | None = None, *, min_visibility: float = 0.0, distractors: list[str | int] | tuple[()] = (),
                    name: str | None = None) -> TrackingClip:
    """A MOTChallenge ground-truth file as a clip to evaluate on: every frame from the first the
    file mentions to the last is scored (a frame in between without boxes says there is nothing
    to find); ``video`` is the footage (needed to run a tracker, not to score a result file),
    its first frame is MOT frame 1. The clip is named ``name``, else after the sequence folder
    of ``SEQ/gt/gt.txt``, else the file (``CLIP.gt.txt`` is clip ``CLIP``)."""
    p = Path(path)
    truth = read_mot(p, groundtruth=True, min_visibility=min_visibility, distractors=distractors)
    if not len(truth):
        raise ConfigError("the MOT ground-truth file has no boxes (cannot tell which frames it covers)", where=str(p))
    title = name or (p.parent.parent.name if p.parent.name == "gt" and p.parent.parent.name else p.stem.removesuffix(".gt"))
    labels = {str(label) for label in truth.label[~truth.ignore]}
    first, last = int(truth.frame.min()), int(truth.frame.max())
    return TrackingClip(title=title, video=str(Path(video).resolve()) if video is not None else "", frames=np.arange(first, last + 1),
                        from_frame=first, labels=labels, truth=truth, method="MOTChallenge ground truth", source=str(p))


def _results(source: str | Path, chosen: list[TrackingClip]) -> dict[str, Tracks]:
    """Result files to score instead of running a tracker: one file (for a single clip) or a
    folder of ``CLIP.txt`` (as ``write_mot_dir`` writes them)."""
    p = Path(source)
    if p.is_dir():
        missing = [c.title for c in chosen if not (p / f"{c.title}.txt").is_file()]
        if missing:
            raise ConfigError(f"no result file '{missing[0]}.txt' in the folder", path="--result", where=str(p))
        return {c.title: read_mot(p / f"{c.title}.txt") for c in chosen}
    if len(chosen) != 1:
        raise ConfigError(f"one result file for {len(chosen)} clips: give a folder of CLIP.txt files, or pick a clip", path="--result", where=str(p))
    return {chosen[0].title: read_mot(p)}


def evaluate_tracker(pipeline: PipelineConfig | dict[str, Any] | str | Path | None, groundtruth: GroundTruth | str | Path | list[TrackingClip], *,
                     settings: list[tuple[str, Any]] | None = None, iou_threshold: float = 0.5, labels: list[str] | None = None,
                     clips: list[str] | None = None, base: Path | None = None, name: str | None = None,
                     write_mot_dir: str | Path | None = None, results: str | Path | None = None, tracker: str = TRACKER) -> TrackerReport:
    """Run a tracking pipeline over every available clip of the tracking ground truth and score
    it (see the module docstring).

    ``pipeline`` gives the detect stage (a config file, mapping or ``PipelineConfig``: its detect
    stage is used, its source and other stages are not); ``None`` uses each clip's own ``detect``.
    A stage without the ``tracker`` plugin (``track``, or a third-party one) gets one at its end.
    ``settings`` are ``(KEY, VALUE)`` pairs: ``algorithm`` and other keys set the tracker's parameters, ``PLUGIN.KEY`` those of
    another plugin of the stage. ``labels`` restricts the scored ground truth (predictions of any
    label count); ``clips`` picks clips by name. ``write_mot_dir`` receives, per clip,
    ``NAME.txt`` (the tracker's boxes, a MOTChallenge result) and ``NAME.gt.txt`` (the ground
    truth), for other evaluators. ``groundtruth`` is a drid ground-truth file (or its model), or
    clips made elsewhere (:func:`mot_groundtruth`). ``results`` scores MOTChallenge result files
    instead of running a tracker: a file (one clip) or a folder of ``CLIP.txt``."""
    where = "ground truth"
    if isinstance(groundtruth, list):
        chosen = list(groundtruth)
        where = ", ".join(sorted({c.source for c in chosen if c.source})) or where
    else:
        if not isinstance(groundtruth, GroundTruth):
            where = str(groundtruth)
            groundtruth, base = load_groundtruth(groundtruth)
        try:
            chosen = groundtruth.tracking_clips()
        except ValueError as exc:
            raise ConfigError(str(exc), where=where) from None
    base = base or Path.cwd()
    if not chosen:
        raise ConfigError("no tracking ground truth in this file (no 'clips', no frames with track_id)", where=where)
    if clips:
        titles = [c.title for c in chosen]
        unknown = [c for c in clips if c not in titles]
        if unknown:
            from drid.errors import close_matches

            raise ConfigError(f"no clip '{unknown[0]}'{close_matches(unknown[0], titles) or ' (clips: ' + ', '.join(titles) + ')'}",
                              path="--clip", where=where)
        chosen = [c for c in chosen if c.title in clips]
    given = _results(results, chosen) if results is not None else None
    stage, stage_where = _detect_stage(pipeline) if given is None else (None, "")
    done: list[ClipResult] = []
    for clip in chosen:
        path = resolve_image(clip.video, base) if clip.video else None
        result = ClipResult(clip=clip, path=path)
        done.append(result)
        if given is not None:
            result.predicted = given[clip.title]
        elif path is None:
            if not clip.video:
                raise ConfigError(f"clip '{clip.title}': no video to run the tracker on (give one, or a result file to score)", where=where)
            continue
        else:
            detect = stage if stage is not None else list(clip.detect)
            if not detect:
                raise ConfigError(f"clip '{clip.title}' names no detect stage: give a pipeline config", where=where)
            result.detect = _with_settings(detect, list(settings or []), stage_where or f"{where}: clip '{clip.title}'", tracker)
            result.predicted, result.seconds = _run(clip, path, result.detect, stage_where or f"{where}: clip '{clip.title}'")
        truth = clip.truth
        result.metrics = evaluate_tracks(truth, result.predicted, frames=clip.frames, iou_threshold=iou_threshold,
                                         labels=labels or sorted(clip.labels))
        if write_mot_dir is not None:
            folder = Path(write_mot_dir)
            write_mot(folder / f"{clip.title}.txt", result.predicted)
            write_mot(folder / f"{clip.title}.gt.txt", truth, groundtruth=True)
    scored = [r for r in done if r.metrics is not None]
    total = _combined(scored, iou_threshold, labels) if scored else None
    algorithms = [s["params"]["algorithm"] for r in scored for s in r.detect if s["plugin"] == tracker and "algorithm" in s["params"]]
    title = name or (f"results {results}" if results is not None else f"{tracker}({algorithms[0]})" if algorithms else tracker)
    return TrackerReport(tracker=title, groundtruth=where, iou_threshold=iou_threshold, clips=done, total=total)


def _run(clip: TrackingClip, path: Path, detect: list[dict[str, Any]], where: str) -> tuple[Tracks, float]:
    """The tracked detections of the clip's annotated frames, and the seconds the detect stage took."""
    import cv2

    first, last = int(clip.frames[0]), int(clip.frames[-1])
    if clip.size is not None:
        cap = cv2.VideoCapture(str(path))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()
        if size != tuple(clip.size):
            raise ConfigError(f"'{path}' is {size[0]}x{size[1]}, the ground truth of clip '{clip.title}' says {clip.size[0]}x{clip.size[1]}", where=where)
    config = PipelineConfig.parse({
        "name": f"eval-tracker-{clip.title}",
        "source": {"plugin": "video", "params": {"path": str(path), "start": min(clip.from_frame, first), "stop": last + 1}},
        "detect": detect,
    }, where=where)
    wanted = set(int(f) for f in clip.frames)
    rows: list[tuple[int, int, tuple[float, float, float, float], float, str]] = []
    seconds = 0.0
    seen = 0
    with Pipeline.from_config(config) as pipe:
        for record in pipe:
            meta_position = record.frame.meta.get("position")
            position = int(meta_position) if isinstance(meta_position, (int, float)) else record.frame.index + min(clip.from_frame, first)
            seen = max(seen, position)
            seconds += record.timings_ms.get("detect", 0.0) / 1e3
            if position not in wanted:
                continue
            rows += [(position, int(d.track_id), d.box.as_xyxy(), float(d.score), d.label) for d in record.detections if d.track_id is not None]
    if seen < last:
        raise ConfigError(f"'{path}' ends at frame {seen}, before the last annotated frame {last} of clip '{clip.title}'", where=where)
    out = Tracks(frame=[r[0] for r in rows], id=[r[1] for r in rows], box=np.array([r[2] for r in rows], dtype=np.float64).reshape(-1, 4),
                 score=[r[3] for r in rows], label=np.array([r[4] for r in rows], dtype=object))
    return out, seconds


def _combined(results: list[ClipResult], iou_threshold: float, labels: list[str] | None) -> TrackingMetrics:
    """The scores of all clips as one sequence: frames and identities of each clip kept apart."""
    truths, preds, frames = [], [], []
    offset = 0
    id_offset = 0
    for r in results:
        clip = r.clip
        truth = clip.truth.select(clip.truth.ignore | np.isin(clip.truth.label, labels or sorted(clip.labels)))
        span = int(clip.frames.max()) + 1 if len(clip.frames) else 0
        step = int(max(truth.id.max(initial=0), r.predicted.id.max(initial=0))) + 1
        truths.append(_shifted(truth, offset, id_offset))
        preds.append(_shifted(r.predicted, offset, id_offset))
        frames.append(clip.frames + offset)
        offset += span
        id_offset += step
    return evaluate_tracks(Tracks.concat(truths), Tracks.concat(preds), frames=np.concatenate(frames), iou_threshold=iou_threshold)


def _shifted(t: Tracks, frames: int, ids: int) -> Tracks:
    return Tracks(frame=t.frame + frames, id=t.id + ids, box=t.box, score=t.score, label=t.label, ignore=t.ignore, visibility=t.visibility)


# -- drawing the outcome (--show) ------------------------------------------------------------------


def draw_frames(result: ClipResult, every: int = 5) -> list[tuple[int, np.ndarray]]:
    """Every ``every``-th annotated frame of a clip with its ground truth (white, thin for
    ignored boxes, ``gt N``) and the tracker's boxes (a colour per identity, ``#N``)."""
    import cv2

    from drid.sinks.draw import draw_text, font_scale

    if result.path is None:
        return []
    wanted = [int(f) for f in result.clip.frames[::max(1, every)]]
    out: list[tuple[int, np.ndarray]] = []
    cap = cv2.VideoCapture(str(result.path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, wanted[0] if wanted else 0)
        number = wanted[0] if wanted else 0
        truth, pred = result.clip.truth, result.predicted
        for target in wanted:
            while number <= target:
                ok, image = cap.read()
                if not ok:
                    return out
                number += 1
            scale = font_scale(image)
            for i in np.flatnonzero(truth.frame == target):
                x1, y1, x2, y2 = (int(round(v)) for v in truth.box[i])
                cv2.rectangle(image, (x1, y1), (x2, y2), (255, 255, 255), 1 if truth.ignore[i] else 2, cv2.LINE_AA)
                draw_text(image, f"gt {truth.id[i]}{' ignore' if truth.ignore[i] else ''}", (x1, y2 + 14), (0, 0, 0), scale * 0.5, background=(255, 255, 255))
            for i in np.flatnonzero(pred.frame == target):
                x1, y1, x2, y2 = (int(round(v)) for v in pred.box[i])
                colour = _colour(int(pred.id[i]))
                cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2, cv2.LINE_AA)
                draw_text(image, f"#{pred.id[i]}", (x1, y1 - 4), (255, 255, 255), scale * 0.6, background=colour)
            draw_text(image, f"{result.clip.title} frame {target}", (8, 22), (255, 255, 255), scale * 0.7, background=(0, 0, 0))
            out.append((target, image))
    finally:
        cap.release()
    return out


def _colour(ident: int) -> tuple[int, int, int]:
    palette = [(60, 60, 230), (60, 200, 60), (230, 120, 40), (40, 200, 230), (200, 60, 200), (230, 200, 40), (40, 130, 255), (150, 60, 255)]
    return palette[ident % len(palette)]
