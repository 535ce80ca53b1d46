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
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drid.errors import ConfigError
from drid.schemas import BoundingBox

__all__ = ["GroundTruth", "ImageTruth", "LineTruth", "ObjectTruth", "bundled_groundtruth", "load_groundtruth"]

FORMAT = "drid-groundtruth"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectTruth(_Strict):
    label: Annotated[str, Field(min_length=1)]
    box: tuple[float, float, float, float]
    ignore: bool = False

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


class GroundTruth(_Strict):
    format: str = FORMAT
    version: int = 1
    description: str = ""
    images: tuple[ImageTruth, ...]

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value != FORMAT:
            raise ValueError(f"expected format '{FORMAT}', got '{value}'")
        return value

    def labels(self) -> set[str]:
        return set().union(*(i.labels() for i in self.images)) if self.images else set()


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
