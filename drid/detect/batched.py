"""A base for detectors that see several frames in one model call."""

from __future__ import annotations

from typing import Any

from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin
from drid.schemas import Detection, Frame

__all__ = ["BatchedDetector"]


class BatchedDetector(Plugin):
    """A detector whose work is ``detect_many(frames)``: one frame per ``drid_detect`` call in a
    pipeline, and many frames per model call when a Ray stage actor hands it the calls that arrived
    together (``batch_call``). Subclasses implement ``detect_many``."""

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """The detections of ``frame`` (``detect_many`` of that one frame)."""
        return self.detect_many([frame])[0]

    def batch_call(self, hook: str, calls: list[dict[str, Any]]) -> list[Any]:
        """Many callers' calls at once: ``drid_detect`` calls share the model's batches."""
        if hook != "drid_detect":
            return [getattr(self, hook)(**kwargs) for kwargs in calls]
        return self.detect_many([kwargs["frame"] for kwargs in calls])

    def detect_many(self, frames: list[Frame]) -> list[list[Detection]]:
        """The detections of each of ``frames``, in order."""
        raise NotImplementedError
