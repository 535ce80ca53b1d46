"""Regions of one colour, found in HSV space: an example of a third-party drid plugin."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from pydantic import Field, model_validator

from drid import BoundingBox, Detection, Frame, hookimpl
from drid.pipeline.params import Plugin, PluginParams


class ColorRegions(Plugin):
    """Connected regions whose hue is in [hue_min, hue_max] (OpenCV hue: 0-179)."""

    # Each parameter is declared once, here: drid validates a config against this model before
    # any frame is read, and the constructor validates the same way (ColorRegions(hue_max=200)
    # raises the ConfigError a config would get). `inspect.signature(ColorRegions)` shows them.
    class Params(PluginParams):
        hue_min: int = Field(default=5, ge=0, le=179, description="lowest hue (OpenCV scale 0-179)")
        hue_max: int = Field(default=22, ge=0, le=179, description="highest hue")
        min_saturation: int = Field(default=90, ge=0, le=255, description="greys below this are ignored")
        min_value: int = Field(default=60, ge=0, le=255, description="dark pixels below this are ignored")
        min_area: float = Field(default=0.002, gt=0, lt=1, description="smallest region, as a fraction of the image")
        label: str = Field(default="region", min_length=1, description="label of the detections")

        @model_validator(mode="after")
        def _ordered(self) -> ColorRegions.Params:
            if self.hue_max < self.hue_min:
                raise ValueError(f"hue_max ({self.hue_max}) is below hue_min ({self.hue_min})")
            return self

    params: Params  # the validated, frozen values: self.params.hue_min

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)  # validates; then derive what the hook needs
        p = self.params
        self.low = np.array([p.hue_min, p.min_saturation, p.min_value], dtype=np.uint8)
        self.high = np.array([p.hue_max, 255, 255], dtype=np.uint8)

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """The regions of the frame in the hue range, largest first."""
        if frame.image is None:
            return []
        hsv = cv2.cvtColor(frame.image, cv2.COLOR_BGR2HSV)
        mask = cv2.inRange(hsv, self.low, self.high)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        total = mask.shape[0] * mask.shape[1]
        found = []
        for x, y, w, h, area in stats[1:n]:
            if area >= self.params.min_area * total:
                found.append(Detection(box=BoundingBox.from_xywh(x, y, w, h), score=min(1.0, area / (w * h)), label=self.params.label))
        return sorted(found, key=lambda d: -d.box.area)
