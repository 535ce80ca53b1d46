"""The ``anomaly`` detector: a model trained on normal images only (``drid train anomaly``) maps
each frame to a per-pixel anomaly score; pixels at or above the calibrated threshold are joined
into regions, and each region is a detection (label ``anomaly``, score its peak) whose ``mask``
carries the anomaly map over its box, so the annotated sinks draw it as a heat map.

Scores are ``raw / (raw + threshold)`` (:func:`~drid.detect.anomaly.model.normalize`): 0.5 at the
calibrated threshold, towards 1 for strong anomalies, comparable across models. With
``full_map: true`` the plugin also returns one detection (label ``anomaly-map``) covering the whole
frame whose mask is the whole map and whose score is the frame's peak: the annotated output then
shows the heat map everywhere, near misses included, and a sink or a rule can read the image-level
score without any region. TensorFlow loads in ``drid_start``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from pydantic import Field

from drid.detect.anomaly.model import AnomalyModel, normalize
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import InputPath, Plugin, PluginParams
from drid.schemas import BoundingBox, Detection, Frame

__all__ = ["AnomalyDetector", "regions"]


def regions(score: np.ndarray, min_area: int) -> list[tuple[int, int, int, int, float]]:
    """Connected regions of a normalised map at or above 0.5 (the threshold), largest peak
    first: ``(x1, y1, x2, y2, peak)``; regions under ``min_area`` pixels are dropped."""
    hot = (score >= 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(hot, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if area < min_area:
            continue
        peak = float(score[y:y + h, x:x + w][labels[y:y + h, x:x + w] == k].max())
        out.append((x, y, x + w, y + h, peak))
    out.sort(key=lambda r: -r[4])
    return out


class AnomalyDetector(Plugin):
    """Regions that deviate from what a model learned as normal (PaDiM, PatchCore or SSIM autoencoder),
    with the anomaly map as each detection's mask."""

    drid_name = "anomaly"

    class Params(PluginParams):
        model: Annotated[str, InputPath(exists=False)] = Field(description="an anomaly model written by drid train anomaly (NAME.keras with NAME.json beside it)")
        threshold: float | None = Field(default=None, gt=0.0, description="raw-score threshold instead of the calibrated one saved with the model")
        min_area: int = Field(default=16, ge=1, description="smallest region, in frame pixels: fewer hot pixels are noise, not a defect")
        full_map: bool = Field(default=False, description="also return one 'anomaly-map' detection over the whole frame with the whole map (see the module docs)")
        max_regions: int = Field(default=20, ge=1, le=1000, description="most regions per frame, highest peak first")
        label: str = Field(default="anomaly", min_length=1, description="label of the region detections")

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.path = Path(self.params.model).expanduser()
        if self.path.suffix != ".keras":
            raise ValueError(f"model '{self.path}' is not a .keras file (drid train anomaly writes NAME.keras and NAME.json)")
        if not self.path.with_suffix(".json").is_file():
            raise ValueError(f"'{self.path}' is not an anomaly model: '{self.path.with_suffix('.json').name}' is missing beside it"
                             if self.path.is_file() or self.path.parent.is_dir() else f"model file not found: '{self.path}'")
        self.model: AnomalyModel | None = None
        self._lock = threading.Lock()

    def load(self) -> AnomalyModel:
        with self._lock:
            if self.model is None:
                model = AnomalyModel.load(self.path)
                if self.params.threshold is None and model.threshold is None:
                    raise ValueError(f"'{self.path}' has no calibrated threshold: give 'threshold' or retrain with drid train anomaly")
                self.model = model
            return self.model

    @property
    def threshold(self) -> float:
        model = self.load()
        value = self.params.threshold if self.params.threshold is not None else model.threshold
        assert value is not None
        return value

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self.load()

    def score_map(self, image: np.ndarray) -> np.ndarray:
        """The normalised anomaly map of one image (``H×W`` in [0, 1), 0.5 at the threshold), at the image's resolution."""
        model = self.load()
        raw = model.maps([image])[0]
        h, w = image.shape[:2]
        if raw.shape != (h, w):
            raw = cv2.resize(raw, (w, h), interpolation=cv2.INTER_LINEAR)
        return normalize(raw, self.threshold)

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """One detection per anomalous region of ``frame.image`` (and the whole map with ``full_map``)."""
        if frame.image is None:
            return []
        p = self.params
        score = self.score_map(frame.image)
        out = []
        for x1, y1, x2, y2, peak in regions(score, p.min_area)[:p.max_regions]:
            out.append(Detection(box=BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2), score=peak, label=p.label,
                                 mask=np.ascontiguousarray(score[y1:y2, x1:x2])))
        if p.full_map:
            h, w = score.shape
            out.append(Detection(box=BoundingBox(x1=0, y1=0, x2=w, y2=h), score=float(score.max()), label="anomaly-map", mask=score))
        return out
