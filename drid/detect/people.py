"""The ``hog-people`` detector: upright people found by OpenCV's HOG descriptor and its
pre-trained linear SVM. Works on ``frame.image`` (BGR uint8) and returns boxes in that image's
pixels, whatever internal ``resize`` it uses; the OpenCV call releases the GIL."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from pydantic import Field

from drid.detect.boxes import frame_box, nms, not_nested, scaled
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Detection, Frame

__all__ = ["HogPeopleDetector"]


class HogPeopleDetector(Plugin):
    """Upright people: OpenCV's HOG descriptor with its pre-trained linear SVM (Dalal & Triggs),
    followed by non-maximum suppression.

    The SVM looks at 64×128 windows, so people shorter than about 100 pixels are missed unless
    ``resize`` enlarges the frame; ``resize`` below 1 and a coarser ``win_stride`` buy speed with
    recall. ``score`` is ``1 - exp(-margin)`` of the SVM margin."""

    drid_name = "hog-people"
    labels: tuple[str, ...] = ("person",)

    class Params(PluginParams):
        resize: float = Field(default=1.0, gt=0.05, le=4.0, description="scale the frame by this before detecting (speed/recall: 0.5 is ~4x faster, finds only larger people)")
        win_stride: int = Field(default=8, ge=1, le=64, description="step of the detection window in pixels (8 is OpenCV's default; 16 is faster, misses more)")
        padding: int = Field(default=8, ge=0, le=64, description="padding around each window in pixels")
        scale: float = Field(default=1.05, gt=1.0, le=2.0, description="step between pyramid levels (larger is faster, misses sizes in between)")
        hit_threshold: float = Field(default=0.0, description="SVM margin a window must exceed")
        min_score: float = Field(default=0.3, ge=0.0, le=1.0, description="drop detections below this score")
        nms_iou: float = Field(default=0.4, gt=0.0, le=1.0, description="IoU above which the weaker of two overlapping boxes is dropped")
        nested: float | None = Field(
            default=0.5, gt=0.0, le=1.0,
            description="drop a box with this share of its area inside a larger kept box (HOG also fires on a person's torso or legs; "
            "NMS keeps those, their IoU with the whole is small); null keeps them. On the one-by-one clip 0.5 took frames showing "
            "two people from 6.1 % to 3.4 % (docs/counting.md)",
        )
        tight: bool = Field(default=True, description="shrink the SVM window to the person inside it (the window has margins around the body)")
        label: str = Field(default="person", min_length=1)

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.labels = (self.params.label,)
        self._hog: cv2.HOGDescriptor | None = None

    @staticmethod
    def _load() -> cv2.HOGDescriptor:
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32))
        return hog

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Loads the HOG descriptor and its SVM."""
        self._hog = self._load()

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """The people standing in ``frame.image``, after non-maximum suppression."""
        if frame.image is None:
            return []
        if self._hog is None:  # called outside a pipeline run
            self._hog = self._load()
        p = self.params
        image = scaled(frame.image, p.resize)
        if image.shape[0] < 128 or image.shape[1] < 64:
            return []
        found, weights = self._hog.detectMultiScale(
            image, hitThreshold=p.hit_threshold, winStride=(p.win_stride, p.win_stride), padding=(p.padding, p.padding), scale=p.scale
        )
        if len(found) == 0:
            return []
        rects = np.asarray(found, dtype=np.float64).reshape(-1, 4)
        scores = 1.0 - np.exp(-np.clip(np.asarray(weights, dtype=np.float64).ravel(), 0.0, None))
        if p.tight:
            # The 64×128 window holds a person about 40×100 px tall: trim the margins.
            rects = rects + rects[:, [2, 3, 2, 3]] * np.array([0.15, 0.06, -0.30, -0.10])
        xyxy = np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]])
        kept = [i for i in nms(xyxy, scores, p.nms_iou) if scores[i] >= p.min_score]
        if p.nested is not None and len(kept) > 1:
            kept = [kept[j] for j in not_nested(xyxy[kept], p.nested)]
        out = []
        for i in kept:
            x, y, w, h = rects[i]
            out.append(Detection(box=frame_box(x, y, w, h, p.resize, frame), score=float(scores[i]), label=p.label))
        return out
