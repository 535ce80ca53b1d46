"""Sources: image files, folders and globs; video files, cameras and network streams (OpenCV;
the streams' reconnection is in ``drid.sources.network``)."""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from pydantic import Field, model_validator

from drid.errors import SourceError
from drid.pipeline.context import RunContext, RunSummary
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import InputPath, Plugin, PluginParams
from drid.schemas import Frame
from drid.sources.media import Sized, media_path, to_bgr
from drid.sources.network import Gap, StreamReader, check_url, is_stream, redacted

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".jp2")


def _check_range(start: int, stop: int | None) -> None:
    if stop is not None and stop <= start:
        raise ValueError(f"stop ({stop}) must be after start ({start})")


class ImageSource(Plugin):
    """Still images from a file, a folder (sorted by name) or a glob pattern."""

    drid_name = "images"

    class Params(PluginParams):
        path: Annotated[str, InputPath()] = Field(description="an image file, a folder of images, or a glob such as 'shots/*.jpg'; 'pkg:PACKAGE/PATH' is inside an installed package")
        recursive: bool = Field(default=False, description="descend into sub-folders (folders and '**' globs)")
        fps: float = Field(default=1.0, gt=0, description="timestamps advance by 1/fps seconds per image")
        repeat: int = Field(default=1, ge=1, description="yield the whole set this many times (benchmarks, soak tests)")
        stride: int = Field(default=1, ge=1, description="keep every n-th file")
        start: int = Field(default=0, ge=0, description="first file to read (index in sorted order)")
        stop: int | None = Field(default=None, ge=1, description="file index to stop before (exclusive)")

        @model_validator(mode="after")
        def _range(self) -> ImageSource.Params:
            _check_range(self.start, self.stop)
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._context: RunContext | None = None

    def files(self) -> list[Path]:
        """The image files this source will read, in order; ``SourceError`` when there are none."""
        path = media_path(self.params.path)
        p = Path(path).expanduser()
        if any(ch in path for ch in "*?["):
            found = sorted(Path(f) for f in glob.glob(os.path.expanduser(path), recursive=self.params.recursive) if Path(f).is_file())
            if not found:
                raise SourceError(f"images: no files match '{self.params.path}'")
            return found
        if p.is_dir():
            walker = p.rglob("*") if self.params.recursive else p.iterdir()
            found = sorted(f for f in walker if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise SourceError(f"images: no image files ({', '.join(IMAGE_SUFFIXES)}) in folder '{p}'")
            return found
        if not p.exists():
            raise SourceError(f"images: file not found: '{p}'")
        if not p.is_file():
            raise SourceError(f"images: '{p}' is not a regular file (a named pipe or a device would block the run)")
        return [p]

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Keeps the run's context, to count the inputs it skips."""
        self._context = context

    @hookimpl
    def drid_frames(self) -> Sized[Frame]:
        """The images in order, ``repeat`` times; undecodable files in a set are skipped and counted."""
        found = self.files()
        files = found[self.params.start:self.params.stop:self.params.stride]
        if not files:
            raise SourceError(f"images: start={self.params.start}, stop={self.params.stop} leave none of the {len(found)} files of '{self.params.path}'")
        single = len(files) == 1

        def frames() -> Iterator[Frame]:
            index = 0
            for _ in range(self.params.repeat):
                for f in files:
                    image = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
                    if image is None or image.size == 0:
                        if single:
                            raise SourceError(f"images: cannot decode '{f}' (not an image, or corrupt)")
                        if self._context is not None:
                            self._context.skip_input("undecodable image file")
                        continue
                    yield Frame(index=index, timestamp=index * self.params.stride / self.params.fps, source=str(f), image=to_bgr(image))
                    index += 1

        return Sized(frames, len(files) * self.params.repeat)


class VideoSource(Plugin):
    """Frames of a video file (MP4, AVI, GIF, …) or a camera, with stride and start/stop."""

    drid_name = "video"

    class Params(PluginParams):
        path: Annotated[str | int, InputPath(names=True, special=True)] = Field(description="a video file (MP4, AVI, GIF…), a stream URL, or a camera index such as 0; 'pkg:PACKAGE/PATH' is inside an installed package")
        stride: int = Field(default=1, ge=1, description="keep every n-th frame")
        start: int = Field(default=0, ge=0, description="first frame to read (file index)")
        stop: int | None = Field(default=None, ge=1, description="frame index to stop before (exclusive)")
        max_bad_frames: int = Field(default=25, ge=0, description="consecutive undecodable frames tolerated before giving up")
        realtime: bool = Field(default=False, description="files: yield frames no sooner than their timestamps say, as a camera would (demos, live views, testing live pipelines)")
        # Network streams only. 10 s covers FFmpeg's probing of an RTSP or HLS stream and a
        # camera's keyframe interval (1-4 s); 10 attempts from 0.5 s doubling to 8 s ride out about
        # a minute of outage (a camera or server restarting) before the run ends with an error.
        timeout: float = Field(default=10.0, gt=0, le=600, description="network streams: seconds to wait to connect and for each frame before the connection counts as lost")
        reconnect: int = Field(default=10, ge=0, le=1000, description="network streams: reconnection attempts after a lost connection before giving up (0: none)")
        backoff: float = Field(default=0.5, gt=0, le=60, description="network streams: seconds before the first reconnection attempt; doubles with each failed one, up to 8 s")

        @model_validator(mode="after")
        def _range(self) -> VideoSource.Params:
            _check_range(self.start, self.stop)
            if is_stream(self.path):
                check_url(str(self.path))
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        path = self.params.path
        self.camera = isinstance(path, int) or (isinstance(path, str) and path.isdigit())
        #: Cameras and streams lose frames when the pipeline falls behind; files never do.
        self.stream = is_stream(path)
        self.live = self.camera or self.stream
        self._context: RunContext | None = None
        self._reader: StreamReader | None = None
        #: The connection gaps of the last run of a network stream, in order.
        self.gaps: list[Gap] = []

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Keeps the run's context, to count the inputs it skips."""
        self._context = context
        self.gaps = []

    @hookimpl
    def drid_stop(self, summary: RunSummary) -> None:
        """Notes the gaps of a network stream in the summary (each is also counted as a skip)."""
        if self._reader is not None:
            self._reader.release()
            self._reader = None
        if self.gaps:
            total = sum(g.seconds for g in self.gaps)
            each = ", ".join(f"{g.seconds:.2f} s after frame {g.after} ({g.attempts} attempt{'s' if g.attempts != 1 else ''})" for g in self.gaps[:10])
            more = f", and {len(self.gaps) - 10} more" if len(self.gaps) > 10 else ""
            summary.notes.append(f"video: stream '{redacted(str(self.params.path))}' lost its connection {len(self.gaps)} time"
                                 f"{'s' if len(self.gaps) != 1 else ''} and reconnected ({total:.2f} s without frames): {each}{more}")

    def _stream_reader(self) -> StreamReader:
        p = self.params
        return StreamReader(str(p.path), timeout=p.timeout, attempts=p.reconnect, backoff=p.backoff, on_gap=self._gap)

    def _gap(self, gap: Gap) -> None:
        self.gaps.append(gap)
        if self._context is not None:
            self._context.skip_input("stream connection lost, reconnected (frames of the gap never arrived)")

    def _stream_frames(self) -> Iterator[Frame]:
        """A network stream's frames, timed by the clock (a gap shows in the timestamps); a
        frame after a gap says how long it was in ``meta['gap_s']``."""
        reader, self._reader = self._reader, None  # the probe's connection, kept open for the first run
        reader = reader or self._stream_reader()
        source = redacted(str(self.params.path))
        start, stop, stride = self.params.start, self.params.stop, self.params.stride
        index = 0
        t0: float | None = None
        pending_gap: Gap | None = None
        for position, image, gap in reader:
            pending_gap = gap or pending_gap
            if stop is not None and position >= stop:
                break
            if position < start or (position - start) % stride:
                continue
            now = time.monotonic()
            t0 = now if t0 is None else t0
            meta: dict[str, Any] = {"position": position}
            if pending_gap is not None:
                meta["gap_s"] = round(pending_gap.seconds, 3)
                pending_gap = None
            yield Frame(index=index, timestamp=now - t0, source=source, image=to_bgr(np.asarray(image)), meta=meta)
            index += 1

    def _open(self) -> tuple[Any, int | None, float]:
        if self.stream:
            reader = self._stream_reader()
            reader.open()  # a one-line SourceError naming the reason when it cannot be read
            self._reader = reader
            return reader, None, reader.fps
        target: str | int = int(self.params.path) if self.camera else media_path(str(self.params.path))
        if not self.live and not Path(str(target)).is_file():
            raise SourceError(f"video: file not found: '{self.params.path}'")
        cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            what = f"camera {target}" if self.camera else f"'{self.params.path}'"
            raise SourceError(f"video: cannot open {what} (not a video, corrupt, or an unsupported codec)")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if not self.live else 0
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if self.params.start and not self.live:
            cap.set(cv2.CAP_PROP_POS_FRAMES, self.params.start)
        return cap, (count if count > 0 else None), fps

    @hookimpl
    def drid_frames(self) -> Sized[Frame]:
        """The kept frames, timed by the container (live sources by their rate); the length when known."""
        cap, count, fps = self._open()
        if self.stream:
            return Sized(self._stream_frames, None)  # the connection stays open for the first iteration
        cap.release()  # probed only; each iteration opens its own capture
        length = None
        if count is not None:
            end = min(count, self.params.stop) if self.params.stop is not None else count
            length = max(0, -(-(end - self.params.start) // self.params.stride))
        return Sized(self._frames, length)

    def _frames(self) -> Iterator[Frame]:
        cap, count, fps = self._open()
        source = str(self.params.path) if self.live else media_path(str(self.params.path))
        try:
            position = self.params.start
            index = 0
            bad = 0
            clock: tuple[float, float] | None = None  # realtime: (when, timestamp) of the first frame
            while self.params.stop is None or position < self.params.stop:
                ok, image = cap.read()
                if not ok or image is None:
                    # End of the file, or a frame that does not decode: tell them apart by the
                    # container's frame count, and give up after too many bad frames in a row.
                    if count is None or position >= count - 1 or bad >= self.params.max_bad_frames:
                        if index == 0 and not self.live:
                            if count is not None and self.params.start >= count:
                                raise SourceError(f"video: start={self.params.start} is past the end of '{source}' ({count} frames)")
                            raise SourceError(f"video: '{source}' has no decodable frames" + (f" ({bad + 1} tried)" if bad else ""))
                        break
                    bad += 1
                    if self._context is not None:
                        self._context.skip_input("undecodable video frame")
                    position += 1
                    continue
                bad = 0
                if (position - self.params.start) % self.params.stride == 0:
                    msec = cap.get(cv2.CAP_PROP_POS_MSEC)
                    if self.live or not msec or msec < 0:
                        timestamp = (position / fps) if fps > 0 else float(index)
                    else:
                        timestamp = msec / 1e3
                    if self.params.realtime:
                        if clock is None:
                            clock = (time.monotonic(), timestamp)
                        ahead = clock[1] + (time.monotonic() - clock[0]) - timestamp
                        if ahead < 0:
                            time.sleep(-ahead)
                    yield Frame(index=index, timestamp=timestamp, source=source, image=to_bgr(np.asarray(image)), meta={"position": position})
                    index += 1
                position += 1
        finally:
            cap.release()
