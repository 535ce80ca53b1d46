"""The ``detector`` plugin: a detection model exported to a standard format (TFLite/LiteRT, ONNX,
drid's ``.keras``), run on frames.

The plugin owns everything around the model: fitting frames to its input (letterbox or stretch,
BGR → RGB), batching frames, mapping boxes back to frame pixels, the score threshold, the class
filter, class-aware non-maximum suppression, the cap on detections and the labels. The model
itself sits behind a format backend (:mod:`drid.detect.exported.backends`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from drid.detect.batched import BatchedDetector
from drid.detect.boxes import nms, not_nested
from drid.detect.exported.backends import DetectorBackend, backend_formats, open_backend, resolve_format
from drid.detect.exported.labels import LabelMap, load_labels
from drid.detect.exported.letterbox import Fit, fit
from drid.errors import ConfigError, close_matches
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import InputPath, PluginParams
from drid.schemas import BoundingBox, Detection, Frame

__all__ = ["MAX_CANDIDATES", "ExportedDetector", "nested_kept", "suppress"]

#: Candidates kept per image (best scores) before NMS: bounds its N×N IoU matrix (8 MB at 1000)
#: when a low ``score_threshold`` lets a YOLO head's 8400 anchors through.
MAX_CANDIDATES = 1000


def suppress(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float, *, class_agnostic: bool = False,
             max_detections: int | None = None) -> np.ndarray:
    """Indices kept by non-maximum suppression, best first: per class (boxes of different
    classes never suppress each other) unless ``class_agnostic``."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    work = np.asarray(boxes, dtype=np.float64)
    if not class_agnostic and len(np.unique(class_ids)) > 1:
        # One NMS over all classes: each class's boxes are moved to their own far-away region.
        span = float(np.abs(work).max()) * 2 + 1.0
        work = work + (np.asarray(class_ids, dtype=np.float64) * span)[:, None]
    keep = np.asarray(nms(work, scores, iou_threshold), dtype=np.int64)
    return keep[:max_detections] if max_detections is not None else keep


def nested_kept(boxes: np.ndarray, class_ids: np.ndarray, fraction: float) -> np.ndarray:
    """Positions (in input order) of the boxes not lying for ``fraction`` of their area inside a
    larger box of the same class (:func:`drid.detect.boxes.not_nested` per class)."""
    keep = np.zeros(len(boxes), dtype=bool)
    for cls in np.unique(class_ids):
        members = np.flatnonzero(class_ids == cls)
        keep[members[not_nested(boxes[members], fraction)]] = True
    return np.flatnonzero(keep)


class ExportedDetector(BatchedDetector):
    """Objects found by an exported detection model: TFLite/LiteRT (SSD-MobileNet,
    EfficientDet-Lite, drid's export), ONNX YOLOv5/v8/11 through OpenCV DNN, or drid's ``.keras``
    detector; letterboxed, thresholded, filtered by class, suppressed per class, named by a label
    map (COCO built in). Frames are batched (``batch_size``; also across sources in a Ray stage
    actor)."""

    drid_name = "detector"

    class Params(PluginParams):
        model: Annotated[str, InputPath(names=True)] = Field(description="model file: .tflite, .onnx or a drid .keras detector (or the name of one bundled with drid)")
        format: str = Field(default="auto", description="auto (by suffix), tflite, onnx, keras, or a format registered with register_backend")
        layout: Literal["auto", "yolov5", "yolov8", "end2end"] = Field(default="auto", description="ONNX/TFLite YOLO output layout (auto: told from the output's shape)")
        input_size: tuple[int, int] | None = Field(default=None, description="model input [width, height] (default: the model's own; 640x640 for an ONNX graph that does not fix it)")
        letterbox: bool | None = Field(default=None, description="keep the aspect ratio and pad (true) or stretch (false); default: what the model says (YOLO and drid: letterbox; TF-OD TFLite: stretch)")
        normalize: Literal["auto", "unit", "signed", "none"] = Field(default="auto", description="float input pixels in [0, 1] (unit), [-1, 1] (signed) or 0..255 (none); auto: ONNX/YOLO unit, TF-OD TFLite signed")
        score_threshold: float = Field(default=0.25, ge=0.0, le=1.0, description="lowest score kept")
        iou_threshold: float = Field(default=0.45, gt=0.0, le=1.0, description="IoU above which a box of the same class is suppressed by a better one")
        class_agnostic: bool = Field(default=False, description="suppress overlapping boxes across classes too")
        nested: float | Literal["auto"] | None = Field(
            default="auto",
            description="drop a box with at least this fraction of its area inside a larger box of its class (a part found beside the whole, "
                        "which NMS keeps); null: never; auto: what the model's metadata says (drid's detectors 0.5, other models never)")
        classes: list[str | int] | None = Field(default=None, description="keep only these classes, by name or id (default: all)")
        labels: Annotated[str, InputPath(names=True)] | list[str] | None = Field(default=None, description="label map: coco (80, YOLO order), coco91 (TF-OD ids), a list of names, or a .txt/.pbtxt file (default: the model's own, else coco91 for TFLite post-processed outputs, coco otherwise)")
        label_offset: int | None = Field(default=None, ge=-1, le=1000, description="entries of the label map before class 0 (default: 1 after a background line / for .pbtxt, else 0)")
        max_detections: int = Field(default=100, ge=1, le=10000, description="most detections per frame, best first")
        batch_size: int = Field(default=8, ge=1, le=256, description="frames per model call")

        @field_validator("model")
        @classmethod
        def _model_named(cls, value: str) -> str:
            if not value.strip():
                raise ValueError("give the model file")
            return value

        @field_validator("format")
        @classmethod
        def _known_format(cls, value: str) -> str:
            formats = backend_formats()
            if value != "auto" and value not in formats:
                raise ValueError(f"unknown format '{value}'{close_matches(value, formats) or ''} (known: auto, {', '.join(formats)})")
            return value

        @field_validator("nested")
        @classmethod
        def _fraction(cls, value: float | str | None) -> float | str | None:
            if isinstance(value, float) and not 0.0 < value <= 1.0:
                raise ValueError(f"nested is a fraction of a box's area in (0, 1], 'auto' or null, got {value}")
            return value

        @field_validator("input_size")
        @classmethod
        def _positive(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
            if value is not None and not all(8 <= v <= 8192 for v in value):
                raise ValueError(f"input_size is [width, height] in pixels between 8 and 8192, got {list(value)}")
            return value

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        self.path = Path(p.model).expanduser()
        if p.format == "auto" and self.path.suffix:
            try:
                resolve_format(self.path, "auto")
            except ValueError as exc:
                raise ConfigError(str(exc), path="params.model") from None
        self.backend: DetectorBackend | None = None
        self.label_map: LabelMap | None = None
        self.keep_ids: set[int] | None = None
        self._fit_aspect = True
        self._nested: float | None = None
        self._lock = threading.Lock()
        # What drid eval and drid plugins know before the model is opened.
        named = [c for c in (p.classes or []) if isinstance(c, str)]
        if named:
            self.labels: tuple[str, ...] | None = tuple(named)
        elif p.labels is not None and not p.classes:
            try:
                self.labels = load_labels(p.labels, p.label_offset).values()
            except ValueError as exc:
                raise ConfigError(str(exc), path="params.labels") from None
        else:
            self.labels = None

    # -- loading ------------------------------------------------------------------------------

    def load(self) -> DetectorBackend:
        """Opens the model (once) and settles the label map and the class filter."""
        with self._lock:
            if self.backend is not None:
                return self.backend
            p = self.params
            try:
                backend = open_backend(self.path, p.format, input_size=p.input_size, layout=None if p.layout == "auto" else p.layout,
                                       normalize=p.normalize)
            except FileNotFoundError as exc:
                raise ConfigError(str(exc), path="params.model") from None
            except (ValueError, TypeError, OSError) as exc:
                raise ConfigError(f"cannot open '{self.path}': {exc}", path="params.model") from None
            label_map = self._label_map(backend)
            self.keep_ids = self._class_ids(label_map)
            model_letterbox = getattr(backend, "letterbox", None)
            self._fit_aspect = p.letterbox if p.letterbox is not None else (model_letterbox if model_letterbox is not None else True)
            self._nested = getattr(backend, "nested", None) if p.nested == "auto" else p.nested
            self.label_map = label_map
            if not p.classes:
                self.labels = label_map.values()
            self.backend = backend
            return backend

    def _label_map(self, backend: DetectorBackend) -> LabelMap:
        p = self.params
        try:
            if p.labels is not None:
                return load_labels(p.labels, p.label_offset)
        except ValueError as exc:
            raise ConfigError(str(exc), path="params.labels") from None
        own = getattr(backend, "labels", None)
        if own:
            return LabelMap({i: n for i, n in enumerate(own) if n and n.strip() not in ("???", "background")}, f"the labels of {self.path.name}")
        # TF Object Detection API models (post-processed TFLite outputs) number COCO by its category
        # ids; YOLO exports, in any format, by the 80 contiguous classes.
        return load_labels("coco91" if getattr(backend, "layout", None) == "postprocessed" else "coco")

    def _class_ids(self, label_map: LabelMap) -> set[int] | None:
        if not self.params.classes:
            return None
        ids: set[int] = set()
        for k, cls in enumerate(self.params.classes):
            if isinstance(cls, int):
                ids.add(cls)
                continue
            found = label_map.id_of(cls)
            if found is None:
                hint = close_matches(cls, list(label_map.values())) or ""
                raise ConfigError(f"class '{cls}' is not in the label map ({label_map.source}){hint}", path=f"params.classes[{k}]")
            ids.add(found)
        return ids

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Opens the model and runs it once on a grey frame (the first real frame is not slower)."""
        backend = self.load()
        w, h = backend.input_size
        backend.predict(np.full((1, h, w, 3), 114, dtype=np.uint8))

    # -- detecting ----------------------------------------------------------------------------

    def detect_many(self, frames: list[Frame]) -> list[list[Detection]]:
        """The detections of several frames, ``batch_size`` frames per model call."""
        backend = self.load()
        out: list[list[Detection]] = [[] for _ in frames]
        todo = [i for i, f in enumerate(frames) if f.image is not None]
        for start in range(0, len(todo), self.params.batch_size):
            chunk = todo[start:start + self.params.batch_size]
            fitted = [self._fit(frames[i].image) for i in chunk]  # type: ignore[arg-type]
            batch = np.stack([image for image, _ in fitted])
            predictions = backend.predict(batch)
            if len(predictions) != len(chunk):
                raise RuntimeError(f"the model returned {len(predictions)} results for a batch of {len(chunk)} images")
            for i, (_, placement), prediction in zip(chunk, fitted, predictions, strict=True):
                out[i] = self._detections(prediction, placement)
        return out

    def _fit(self, image: np.ndarray) -> tuple[np.ndarray, Fit]:
        assert self.backend is not None
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return fit(rgb, self.backend.input_size, self._fit_aspect)

    def _detections(self, prediction: tuple[np.ndarray, np.ndarray, np.ndarray], placement: Fit) -> list[Detection]:
        assert self.label_map is not None
        p = self.params
        boxes, scores, ids = (np.asarray(a) for a in prediction)
        boxes = boxes.reshape(-1, 4).astype(np.float64)
        scores = scores.reshape(-1).astype(np.float64)
        ids = ids.reshape(-1).astype(np.int64)
        if not (len(boxes) == len(scores) == len(ids)):
            raise RuntimeError(f"the model returned {len(boxes)} boxes, {len(scores)} scores and {len(ids)} class ids")
        keep = np.isfinite(scores) & np.isfinite(boxes).all(axis=1) & (scores >= p.score_threshold)
        if self.keep_ids is not None:
            keep &= np.isin(ids, list(self.keep_ids))
        boxes, scores, ids = boxes[keep], scores[keep], ids[keep]
        if len(scores) > MAX_CANDIDATES:
            top = np.argsort(-scores, kind="stable")[:MAX_CANDIDATES]
            boxes, scores, ids = boxes[top], scores[top], ids[top]
        boxes = placement.to_frame(boxes)
        sized = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores, ids = boxes[sized], scores[sized], ids[sized]
        order = suppress(boxes, scores, ids, p.iou_threshold, class_agnostic=p.class_agnostic)
        if self._nested is not None and len(order) > 1:
            order = order[nested_kept(boxes[order], ids[order], self._nested)]
        order = order[:p.max_detections]
        return [Detection(box=BoundingBox(x1=float(boxes[i, 0]), y1=float(boxes[i, 1]), x2=float(boxes[i, 2]), y2=float(boxes[i, 3])),
                          score=float(np.clip(scores[i], 0.0, 1.0)), label=self.label_map[int(ids[i])]) for i in order]
