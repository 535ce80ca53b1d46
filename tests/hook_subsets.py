"""Plugins whose hooks take fewer arguments than their specs list (pluggy allows any subset, by
name): the engine, the evaluator and the Ray stage actor must all call them the same way.

Importable as ``hook_subsets:ClassName`` from a config (``tests/`` is on ``sys.path`` in the test
session, and so in its Ray workers)."""

from __future__ import annotations

from drid import Decision, Recognition, Scene, hookimpl
from drid.testing import detection


class SubsetDetector:
    """``drid_detect(self)`` without the frame; ``drid_start``/``drid_stop`` without arguments."""

    labels = ("thing",)

    def __init__(self) -> None:
        self.started = 0
        self.stopped = 0
        self.calls = 0

    @hookimpl
    def drid_start(self) -> None:
        self.started += 1

    @hookimpl
    def drid_detect(self) -> list:
        self.calls += 1
        return [detection((10, 10, 50, 50), label="thing", score=0.8)]

    @hookimpl
    def drid_stop(self) -> None:
        self.stopped += 1


class SubsetRecognizer:
    """``drid_recognize(self, detections)`` without the frame, and a ``drid_start(self)``."""

    def __init__(self) -> None:
        self.started = False

    @hookimpl
    def drid_start(self) -> None:
        self.started = True

    @hookimpl
    def drid_recognize(self, detections: list) -> list[Recognition]:
        label = "seen" if self.started else "not-started"
        return [Recognition(detection=i, label=label, score=1.0) for i, _ in enumerate(detections)]


class SubsetInterpreter:
    """``drid_interpret(self, objects)`` without the frame."""

    @hookimpl
    def drid_interpret(self, objects: list) -> Scene:
        return Scene(facts=[f"{len(objects)} objects"])


class SubsetPolicy:
    """``drid_decide(self)`` with neither frame nor scene."""

    @hookimpl
    def drid_decide(self) -> Decision:
        return Decision(action="wave")


class SubsetSink:
    """``drid_write(self)`` without the record: counts the frames it was called for."""

    def __init__(self) -> None:
        self.written = 0

    @hookimpl
    def drid_write(self) -> None:
        self.written += 1
