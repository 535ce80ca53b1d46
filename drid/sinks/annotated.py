"""Sinks that show what the pipeline saw: ``annotated-video`` (an MP4 with everything drawn on it)
and ``frames`` (annotated PNGs every N frames). The drawing itself lives in ``drid.sinks.draw``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import Field, field_validator

from drid.errors import ConfigError, DridError
from drid.pipeline.context import RunContext, RunSummary
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import FrameRecord
from drid.sinks.draw import Annotator

__all__ = ["VIDEO_SUFFIXES", "AnnotatedVideoSink", "FramesSink"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v")


class _DrawingParams(PluginParams):
    """What both sinks draw, and how large."""

    trail: int = Field(default=30, ge=0, le=1000, description="past centres shown behind each track (0: no trails)")
    facts: bool = Field(default=True, description="show the scene's situations and facts")
    banner: bool = Field(default=True, description="show the decision as a banner")
    scale: float = Field(default=1.0, gt=0.05, le=4.0, description="resize the annotated picture by this")
    zones: list[dict[str, Any]] = Field(default_factory=list, description="zones to draw: [{name, polygon: [[x, y], ...]}] (as given to 'relations')")
    lines: list[dict[str, Any]] = Field(default_factory=list, description="counting lines to draw: [{name, start: [x, y], end: [x, y]}]")

    @field_validator("zones")
    @classmethod
    def _zones(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, zone in enumerate(value):
            if not isinstance(zone.get("name"), str) or len(zone.get("polygon") or ()) < 3:
                raise ValueError(f"zone {i} needs a name and a polygon of at least 3 [x, y] points")
        return value

    @field_validator("lines")
    @classmethod
    def _lines(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, line in enumerate(value):
            if not isinstance(line.get("name"), str) or len(line.get("start") or ()) != 2 or len(line.get("end") or ()) != 2:
                raise ValueError(f"line {i} needs a name, a start [x, y] and an end [x, y]")
        return value


def _annotator(p: _DrawingParams) -> Annotator:
    return Annotator(trail=p.trail, facts=p.facts, banner=p.banner, zones=p.zones, lines=p.lines)


def _resized(image: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return image
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


class AnnotatedVideoSink(Plugin):
    """An MP4 (or AVI) of the annotated frames: boxes, labels, scores, track ids and trails, lane
    lines, zones, the scene's facts and the decision, written with OpenCV's ``VideoWriter``.

    The frame rate comes from ``fps`` or, by default, from the first two frames' timestamps. Frames
    of another size than the first are fitted into it (letterboxed). Frames without pixels are
    skipped and counted."""

    drid_name = "annotated-video"

    class Params(_DrawingParams):
        path: str = Field(description="output video file (.mp4 or .avi); folders are created")
        fps: float | None = Field(default=None, gt=0, le=1000, description="frame rate (default: from the frames' timestamps, else 25)")
        codec: str = Field(default="mp4v", min_length=4, max_length=4, description="FourCC of the codec (mp4v plays back with OpenCV everywhere)")
        segment_seconds: float | None = Field(
            default=None, gt=0, le=86_400,
            description="write the video as closed pieces of this many seconds (PATH-0000.mp4, PATH-0001.mp4, …): after a SIGKILL every piece but the last plays; default one file",
        )

        @field_validator("codec")
        @classmethod
        def _fourcc(cls, value: str) -> str:
            if not (value.isascii() and value.isprintable() and value.strip()):
                raise ValueError(f"'{value}' is not a FourCC: four printable ASCII characters such as mp4v, MJPG or XVID")
            return value

        @field_validator("path")
        @classmethod
        def _video_suffix(cls, value: str) -> str:
            if Path(value).suffix.lower() not in VIDEO_SUFFIXES:
                raise ValueError(f"'{value}' needs a video file suffix ({', '.join(VIDEO_SUFFIXES)}): OpenCV picks the container by it")
            return value

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.path = Path(self.params.path)
        self.annotator = _annotator(self.params)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self._pending: tuple[np.ndarray, float] | None = None
        self.frames_written = 0
        self.frames_without_image = 0
        #: The video files written (one, or one per segment), in order.
        self.files: list[Path] = []
        self._fps = 25.0

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Creates the output folder and checks, with a small probe video written there, that
        the folder is writable and the codec writes this container: both fail here, before the
        first frame, not at the end of the run. The writer itself opens with the first frame
        (or two)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DridError(f"annotated-video: cannot create '{self.path.parent}': {exc.strerror or exc}") from None
        _check_writable(self.path.parent, "annotated-video")
        if not self._probe((64, 64)):
            raise ConfigError(f"codec '{self.params.codec}' cannot write '{self.path.suffix}' files with this OpenCV build "
                              "(mp4v, MJPG and XVID can)", path="params.codec")
        self.annotator.reset()
        self._writer, self._size, self._pending = None, None, None
        self.frames_written = self.frames_without_image = 0
        self.files = []

    def _probe(self, size: tuple[int, int]) -> bool:
        """Whether a writer of this codec, container and frame size opens (a throw-away file)."""
        probe = self.path.with_name(f".{self.path.stem}.probe{self.path.suffix}")
        try:
            writer = cv2.VideoWriter(str(probe), cv2.VideoWriter.fourcc(*self.params.codec), 25.0, size)
            ok = writer.isOpened()
            writer.release()
        finally:
            probe.unlink(missing_ok=True)
        return bool(ok)

    def _open(self, size: tuple[int, int], fps: float) -> cv2.VideoWriter:
        target = self.path if self.params.segment_seconds is None else self.path.with_name(f"{self.path.stem}-{len(self.files):04d}{self.path.suffix}")
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*self.params.codec), fps, size)
        if not writer.isOpened():
            raise DridError(f"annotated-video: cannot write '{target}' with codec '{self.params.codec}' at {size[0]}x{size[1]}")
        self.files.append(target)
        return writer

    def _fit(self, image: np.ndarray) -> np.ndarray:
        assert self._size is not None
        w, h = self._size
        if (image.shape[1], image.shape[0]) == (w, h):
            return image
        f = min(w / image.shape[1], h / image.shape[0])
        small = cv2.resize(image, (max(1, round(image.shape[1] * f)), max(1, round(image.shape[0] * f))), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((h, w, 3), dtype=np.uint8)
        y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
        return canvas

    def _emit(self, image: np.ndarray) -> None:
        assert self._writer is not None and self._size is not None
        segment = self.params.segment_seconds
        if segment is not None and self.frames_written and self.frames_written % max(1, round(segment * self._fps)) == 0:
            self._writer.release()  # this piece is complete and playable from now on
            self._writer = self._open(self._size, self._fps)
        self._writer.write(self._fit(image))
        self.frames_written += 1

    @hookimpl
    def drid_write(self, record: FrameRecord) -> None:
        """Annotates the frame and writes it to the video (frames without pixels are counted)."""
        if record.frame.image is None:
            self.frames_without_image += 1
            return
        image = _resized(self.annotator.annotate(record), self.params.scale)
        if self._writer is not None:
            self._emit(image)
            return
        # The writer needs the frame rate up front: hold the first frame until the second one's
        # timestamp tells it (or until the end of the run).
        if self._pending is None and self.params.fps is None:
            size = _writer_size(image)
            if not self._probe(size):  # fail on this frame, not at the end of the run
                raise DridError(f"annotated-video: cannot write '{self.path}' with codec '{self.params.codec}' at {size[0]}x{size[1]}")
            self._pending = (image, record.frame.timestamp)
            return
        fps = self.params.fps or _rate(self._pending[1] if self._pending else None, record.frame.timestamp)
        self._start_writer(image if self._pending is None else self._pending[0], fps)
        if self._pending is not None:
            self._emit(self._pending[0])
            self._pending = None
        self._emit(image)

    def _start_writer(self, first: np.ndarray, fps: float) -> None:
        self._size = _writer_size(first)
        self._fps = fps
        self._writer = self._open(self._size, fps)

    @hookimpl
    def drid_stop(self, summary: RunSummary) -> None:
        """Writes a held first frame, closes the video so it plays, and notes skipped frames."""
        if self._pending is not None:
            self._start_writer(self._pending[0], self.params.fps or 25.0)
            self._emit(self._pending[0])
            self._pending = None
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self.frames_without_image:
            summary.notes.append(f"annotated-video: {self.frames_without_image} frames had no image and were not written")


#: Encoders refuse frames below 2 pixels or above 8192 a side (MPEG-4 Part 2): frames outside are
#: letterboxed into a size within, at least 16 pixels a side so that the drawing stays legible.
_MIN_SIDE, _MAX_SIDE = 16, 8192


def _writer_size(image: np.ndarray) -> tuple[int, int]:
    """The video's frame size for a first frame of ``image``'s size (width, height)."""
    w, h = int(image.shape[1]), int(image.shape[0])
    shrink = min(1.0, _MAX_SIDE / max(w, h))
    return max(_MIN_SIDE, int(w * shrink)), max(_MIN_SIDE, int(h * shrink))


def _check_writable(folder: Path, plugin: str) -> None:
    """``DridError`` unless a file can be created in ``folder`` (a read-only mount, say)."""
    probe = folder / f".drid-probe-{os.getpid()}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise DridError(f"{plugin}: cannot write into '{folder}': {exc.strerror or exc}") from None


def _rate(t0: float | None, t1: float) -> float:
    if t0 is None or not t1 > t0:
        return 25.0
    return float(min(max(1.0 / (t1 - t0), 1.0), 240.0))


class FramesSink(Plugin):
    """Annotated PNGs of every ``every``-th frame (and of the first), named by frame index."""

    drid_name = "frames"

    class Params(_DrawingParams):
        path: str = Field(description="output folder; created if missing")
        every: int = Field(default=25, ge=1, description="write one frame in this many")
        pattern: str = Field(default="frame_{index:06d}.png", description="file name, formatted with the frame's index")

        @field_validator("pattern")
        @classmethod
        def _formats(cls, value: str) -> str:
            try:
                name = value.format(index=0)
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"pattern '{value}' must format with {{index}} only ({exc})") from None
            if "/" in name or not cv2.haveImageWriter(name):
                raise ValueError(f"pattern '{value}' must be a file name ending in an image suffix OpenCV writes (.png, .jpg, .bmp, .tif, .webp)")
            return value

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.path = Path(self.params.path)
        self.annotator = _annotator(self.params)
        self.written: list[Path] = []
        self._seen = 0

    @property
    def every(self) -> int:
        """One frame in this many is written."""
        return self.params.every

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Creates the output folder."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DridError(f"frames: cannot create '{self.path}': {exc.strerror or exc}") from None
        _check_writable(self.path, "frames")
        self.annotator.reset()
        self.written = []
        self._seen = 0

    @hookimpl
    def drid_write(self, record: FrameRecord) -> None:
        """Writes every ``every``-th frame as an annotated picture (all frames feed the trails)."""
        seen, self._seen = self._seen, self._seen + 1
        if record.frame.image is None or seen % self.params.every:
            self.annotator.observe(record)  # trails need every frame
            return
        image = self.annotator.annotate(record)
        target = self.path / self.params.pattern.format(index=record.frame.index)
        if not cv2.imwrite(str(target), _resized(image, self.params.scale)):
            raise DridError(f"frames: cannot write '{target}'")
        self.written.append(target)
