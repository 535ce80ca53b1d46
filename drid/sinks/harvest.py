"""The ``harvest`` sink: detection crops from a pipeline run, saved as an image-folder dataset.

Video → ``harvest`` → (sort or relabel the folders by eye) → ``drid train classifier`` →
``keras-classifier``: the whole path from footage to a recognizer stays inside drid. The folder
gets one sub-folder per label, ``crops.jsonl`` (one line per crop: where it came from) and
``harvest.json`` (the run's settings and counts, read by the trainer for the model card).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path
from typing import IO, Any, Literal

import cv2
from pydantic import Field

from drid.errors import DridError
from drid.pipeline.context import RunContext, RunSummary
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.recognize.crops import crop_box
from drid.schemas import FrameRecord

__all__ = ["HarvestSink"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(name: str) -> str:
    return _SAFE.sub("_", name).strip("._") or "unnamed"


class HarvestSink(Plugin):
    """Save detection crops into a dataset folder, one sub-folder per label (for drid train classifier)."""

    drid_name = "harvest"

    class Params(PluginParams):
        path: str = Field(description="dataset folder to write (one sub-folder per label); created if missing")
        label_from: Literal["recognition", "detection", "none"] = Field(
            default="detection", description="folder name: the best recognition's label, the detector's label, or 'none' (all in unlabeled/)")
        only: list[str] | None = Field(default=None, description="keep only detections with these detector labels")
        padding: float = Field(default=0.1, ge=0.0, le=2.0, description="grow each box by this fraction per side (keras-classifier's default is the same)")
        square: bool = Field(default=True, description="grow the shorter side with image context so crops are square")
        min_size: int = Field(default=12, ge=1, description="skip boxes narrower or shorter than this many pixels")
        every: int = Field(default=1, ge=1, description="save crops from every n-th frame only")
        per_track: int | None = Field(default=None, ge=1, description="at most this many crops per track id (variety over quantity)")
        max_crops: int | None = Field(default=None, ge=1, description="stop saving after this many crops")
        format: Literal["png", "jpg"] = Field(default="png", description="image file format")

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.root = Path(self.params.path).expanduser()
        self.saved = 0
        self.counts: dict[str, int] = {}
        self._per_track: dict[tuple[str, int], int] = {}
        self._index: IO[str] | None = None
        self._sources: dict[str, None] = {}
        self._frames = 0
        self._pipeline = ""

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Creates the dataset folder and opens its ``crops.jsonl``."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._index = open(self.root / "crops.jsonl", "a", encoding="utf-8")
        except OSError as exc:
            raise DridError(f"harvest: cannot write to '{self.root}': {exc.strerror or exc}") from None
        self._pipeline = context.name
        self._stages = context.stages

    @hookimpl
    def drid_write(self, record: FrameRecord) -> None:
        """Saves the frame's detection crops that pass the filters, each in its label's folder."""
        p = self.params
        frame = record.frame
        self._frames += 1
        if frame.image is None or frame.index % p.every:
            return
        self._sources[frame.source] = None
        best: dict[int, tuple[str, float]] = {}
        for rec in record.recognitions:
            if rec.detection not in best or rec.score > best[rec.detection][1]:
                best[rec.detection] = (rec.label, rec.score)
        stem = _safe(Path(frame.source).stem if frame.source else "frame")
        for j, det in enumerate(record.detections):
            if p.max_crops is not None and self.saved >= p.max_crops:
                return
            if p.only is not None and det.label not in p.only:
                continue
            if det.box.width < p.min_size or det.box.height < p.min_size:
                continue
            if p.per_track is not None and det.track_id is not None:
                key = (frame.source, det.track_id)
                if self._per_track.get(key, 0) >= p.per_track:
                    continue
                self._per_track[key] = self._per_track.get(key, 0) + 1
            if p.label_from == "recognition":
                label = best[j][0] if j in best else "unrecognized"
            elif p.label_from == "detection":
                label = det.label
            else:
                label = "unlabeled"
            crop = crop_box(frame.image, det.box, padding=p.padding, aspect=1.0 if p.square else None)
            folder = self.root / _safe(label)
            folder.mkdir(exist_ok=True)
            track = f"_t{det.track_id}" if det.track_id is not None else ""
            name = f"{stem}_f{frame.index:06d}_d{j:02d}{track}.{p.format}"
            if not cv2.imwrite(str(folder / name), crop):
                raise DridError(f"harvest: cannot write '{folder / name}'")
            self.saved += 1
            self.counts[folder.name] = self.counts.get(folder.name, 0) + 1
            assert self._index is not None
            entry = {"file": f"{folder.name}/{name}", "source": frame.source, "frame": frame.index, "timestamp": frame.timestamp,
                     "box": list(det.box.as_xyxy()), "detector": det.plugin, "detected_as": det.label, "score": det.score,
                     "track_id": det.track_id, "recognized_as": best[j][0] if j in best else None}
            self._index.write(json.dumps(entry) + "\n")
        if self._index is not None:
            self._index.flush()

    @hookimpl
    def drid_stop(self, summary: RunSummary) -> None:
        """Closes ``crops.jsonl`` and writes ``harvest.json`` (settings and counts)."""
        if self._index is not None:
            self._index.close()
            self._index = None
        info = {
            "harvested": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "pipeline": self._pipeline,
            "stages": getattr(self, "_stages", {}),
            "sources": list(self._sources),
            "frames_seen": self._frames,
            "crops": self.saved,
            "counts": self.counts,
            **self.params.model_dump(exclude={"path"}),
        }
        try:
            (self.root / "harvest.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        except OSError:
            pass
