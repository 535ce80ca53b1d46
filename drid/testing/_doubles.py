"""Test doubles that are plugins themselves: sources, a sink, a closed-loop world, a detector, a
recognizer that batches, and a detector that kills its own process."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from drid.pipeline.context import RunContext, RunSummary
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import BoundingBox, Decision, Detection, Frame, FrameRecord, Recognition, Transition
from drid.sources.media import Sized

__all__ = ["BrightRegion", "CollectSink", "CounterWorld", "ListSource", "MeanColour", "ProcessKiller", "SyntheticSource"]


class ListSource:
    """Yields the frames it was given, in order."""

    drid_name = "list-source"

    def __init__(self, frames: Iterable[Frame], live: bool = False, delay: float = 0.0) -> None:
        self.frames = list(frames)
        self.live = live
        self.delay = delay

    @hookimpl
    def drid_frames(self) -> Sized[Frame]:
        def gen() -> Iterator[Frame]:
            for f in self.frames:
                if self.delay:
                    time.sleep(self.delay)
                yield f

        return Sized(gen, len(self.frames))


class SyntheticSource(Plugin):
    """``n`` frames of ``height``×``width`` with a bright square moving left to right."""

    drid_name = "synthetic"

    class Params(PluginParams):
        n: int = Field(default=100, ge=0, description="frames to yield")
        width: int = Field(default=64, ge=1, description="frame width in pixels")
        height: int = Field(default=48, ge=1, description="frame height in pixels")
        live: bool = Field(default=False, description="behave as a live source (drop policies apply)")
        delay: float = Field(default=0.0, ge=0.0, description="seconds to wait before each frame")
        source: str = Field(default="synthetic", description="the frames' source name")

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.live = self.params.live

    def frame(self, i: int) -> Frame:
        """Frame ``i``: the square ``2·i`` pixels further right (wrapping around)."""
        p = self.params
        image = np.zeros((p.height, p.width, 3), dtype=np.uint8)
        side = max(2, min(p.width, p.height) // 4)
        x = (i * 2) % max(1, p.width - side)
        y = (p.height - side) // 2
        image[y : y + side, x : x + side] = 255
        return Frame(index=i, timestamp=i / 30.0, source=p.source, image=image)

    @hookimpl
    def drid_frames(self) -> Sized[Frame]:
        """``n`` frames, ``delay`` seconds apart."""

        def gen() -> Iterator[Frame]:
            for i in range(self.params.n):
                if self.params.delay:
                    time.sleep(self.params.delay)
                yield self.frame(i)

        return Sized(gen, self.params.n)


class CollectSink:
    """Keeps every record; ``started``/``stopped`` tell whether the lifecycle ran."""

    drid_name = "collect"

    def __init__(self) -> None:
        self.records: list[FrameRecord] = []
        self.started = False
        self.stopped = False
        self.summary: RunSummary | None = None

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self.started = True

    @hookimpl
    def drid_write(self, record: FrameRecord) -> None:
        self.records.append(record)

    @hookimpl
    def drid_stop(self, summary: RunSummary) -> None:
        self.stopped = True
        self.summary = summary


class CounterWorld(Plugin):
    """A closed-loop source: observation ``[step]``, reward = the action (a number), episodes
    of ``episode_length`` steps ended by truncation; every applied action is logged."""

    drid_name = "counter-world"

    class Params(PluginParams):
        steps: int = Field(default=10, ge=0, description="frames (steps) in the run")
        episode_length: int = Field(default=4, ge=1, description="steps per episode")

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.actions: list[object] = []
        self._t = 0
        self._episode = 0

    def _obs(self) -> np.ndarray:
        return np.array([float(self._t)], dtype=np.float32)

    @hookimpl
    def drid_frames(self) -> Iterator[Frame]:
        """``steps`` frames whose observation is the step within the episode."""
        for i in range(self.params.steps):
            yield Frame(index=i, timestamp=float(i), source="counter-world", observation=self._obs(), meta={"episode": self._episode})

    @hookimpl
    def drid_act(self, frame: Frame, decision: Decision | None) -> Transition:
        """Logs the action and advances the counter; the reward is the action."""
        action = decision.action if decision is not None else 0
        self.actions.append(action)
        obs = self._obs()
        self._t += 1
        truncated = self._t >= self.params.episode_length
        transition = Transition(
            observation=obs,
            action=action,
            reward=float(action) if isinstance(action, (int, float)) else 0.0,
            next_observation=self._obs(),
            terminated=False,
            truncated=truncated,
            episode=self._episode,
            step=self._t,
        )
        if truncated:
            self._t = 0
            self._episode += 1
        return transition


class ProcessKiller(Plugin):
    """Kills the process it runs in with SIGKILL at frame ``at_frame``. With ``once_marker``, it
    kills only while that file does not exist, creating it first: the retry then succeeds."""

    drid_name = "process-killer"

    class Params(PluginParams):
        at_frame: int = Field(default=0, ge=0, description="index of the frame that kills the process")
        once_marker: str | None = Field(default=None, description="a file: kill only while it does not exist (it is created first)")

    params: Params

    @hookimpl
    def drid_detect(self, frame: Frame) -> list:
        """Nothing detected; the process dies at ``at_frame``."""
        marker = self.params.once_marker
        if frame.index == self.params.at_frame:
            if marker is None:
                os.kill(os.getpid(), signal.SIGKILL)
            elif not Path(marker).exists():
                Path(marker).touch()
                os.kill(os.getpid(), signal.SIGKILL)
        return []


class BrightRegion(Plugin):
    """The box around every pixel brighter than ``threshold`` (one detection, or none)."""

    drid_name = "bright-region"

    class Params(PluginParams):
        threshold: int = Field(default=128, ge=0, le=255, description="grey level a pixel must exceed")

    params: Params

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """One ``region`` detection around the bright pixels, or none."""
        if frame.image is None:
            return []
        ys, xs = np.nonzero(frame.image.max(axis=2) > self.params.threshold)
        if len(xs) == 0:
            return []
        return [Detection(box=BoundingBox(x1=xs.min(), y1=ys.min(), x2=xs.max() + 1, y2=ys.max() + 1), label="region")]


class MeanColour(Plugin):
    """``bright`` or ``dark`` by the mean grey level of each detection's crop."""

    drid_name = "mean-colour"

    class Params(PluginParams):
        threshold: float = Field(default=100.0, description="mean grey level above which a crop is bright")

    params: Params

    @hookimpl
    def drid_recognize(self, frame: Frame, detections: list[Detection]) -> list[Recognition]:
        """``bright`` or ``dark`` for each detection, scored by its crop's mean grey level."""
        out = []
        for i, d in enumerate(detections):
            x1, y1, x2, y2 = (int(round(v)) for v in d.box.as_xyxy())
            crop = frame.image[y1:y2, x1:x2] if frame.image is not None else np.zeros((0, 0, 3))
            mean = float(crop.mean()) if crop.size else 0.0
            out.append(Recognition(detection=i, label="bright" if mean > self.params.threshold else "dark", score=min(1.0, mean / 255)))
        return out

    def batch_call(self, hook: str, calls: list[dict]) -> list:
        """Many pipelines' calls at once (see ``ActorSpec``)."""
        assert hook == "drid_recognize", hook
        return [self.drid_recognize(**kwargs) for kwargs in calls]
