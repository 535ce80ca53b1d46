"""Sources: image files, folders and globs; video files and cameras (OpenCV)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from pydantic import Field, model_validator

from drid.errors import SourceError
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import InputPath, Plugin, PluginParams
from drid.schemas import Frame
from drid.sources.media import Sized, media_path, to_bgr

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

        @model_validator(mode="after")
        def _range(self) -> VideoSource.Params:
            _check_range(self.start, self.stop)
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        path = self.params.path
        self.camera = isinstance(path, int) or (isinstance(path, str) and path.isdigit())
        #: Cameras and streams lose frames when the pipeline falls behind; files never do.
        self.live = self.camera or (isinstance(path, str) and "://" in path)
        self._context: RunContext | None = None

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Keeps the run's context, to count the inputs it skips."""
        self._context = context

    def _open(self) -> tuple[Any, int | None, float]:
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
                    yield Frame(index=index, timestamp=timestamp, source=source, image=to_bgr(np.asarray(image)), meta={"position": position})
                    index += 1
                position += 1
        finally:
            cap.release()
