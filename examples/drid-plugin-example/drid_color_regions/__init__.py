"""Regions of one colour, found in HSV space: an example of a third-party drid plugin."""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from drid import BoundingBox, Detection, Frame, hookimpl


class ColorRegions:
    """Connected regions whose hue is in [hue_min, hue_max] (OpenCV hue: 0-179)."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
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

    def __init__(self, hue_min=5, hue_max=22, min_saturation=90, min_value=60, min_area=0.002, label="region"):
        self.low = np.array([hue_min, min_saturation, min_value], dtype=np.uint8)
        self.high = np.array([hue_max, 255, 255], dtype=np.uint8)
        self.min_area = min_area
        self.label = label

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        if frame.image is None:
            return []
        hsv = cv2.cvtColor(frame.image, cv2.COLOR_BGR2HSV)
        mask = cv2.inRange(hsv, self.low, self.high)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        total = mask.shape[0] * mask.shape[1]
        found = []
        for x, y, w, h, area in stats[1:n]:
            if area >= self.min_area * total:
                found.append(Detection(box=BoundingBox.from_xywh(x, y, w, h), score=min(1.0, area / (w * h)), label=self.label))
        return sorted(found, key=lambda d: -d.box.area)
