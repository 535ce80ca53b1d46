"""Sources: image files, folders and globs; video files and cameras (OpenCV)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from drid.errors import SourceError
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.schemas import Frame
from drid.sources.media import Sized, media_path, to_bgr

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".jp2")


class ImageSource:
    """Still images from a file, a folder (sorted by name) or a glob pattern."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str = Field(description="an image file, a folder of images, or a glob such as 'shots/*.jpg'; 'pkg:PACKAGE/PATH' is inside an installed package")
        recursive: bool = Field(default=False, description="descend into sub-folders (folders and '**' globs)")
        fps: float = Field(default=1.0, gt=0, description="timestamps advance by 1/fps seconds per image")
        repeat: int = Field(default=1, ge=1, description="yield the whole set this many times (benchmarks, soak tests)")
        stride: int = Field(default=1, ge=1, description="keep every n-th file")
        start: int = Field(default=0, ge=0, description="first file to read (index in sorted order)")
        stop: int | None = Field(default=None, ge=1, description="file index to stop before (exclusive)")

        @model_validator(mode="after")
        def _range(self) -> ImageSource.Params:
            if self.stop is not None and self.stop <= self.start:
                raise ValueError(f"stop ({self.stop}) must be after start ({self.start})")
            return self

    def __init__(self, path: str, recursive: bool = False, fps: float = 1.0, repeat: int = 1, stride: int = 1, start: int = 0, stop: int | None = None) -> None:
        self.path = path
        self.recursive = recursive
        self.fps = fps
        self.repeat = repeat
        self.stride = stride
        self.start = start
        self.stop = stop
        self._context: RunContext | None = None

    def files(self) -> list[Path]:
        """The image files this source will read, in order; ``SourceError`` when there are none."""
        path = media_path(self.path)
        p = Path(path).expanduser()
        if any(ch in path for ch in "*?["):
            found = sorted(Path(f) for f in glob.glob(os.path.expanduser(path), recursive=self.recursive) if Path(f).is_file())
            if not found:
                raise SourceError(f"images: no files match '{self.path}'")
            return found
        if p.is_dir():
            walker = p.rglob("*") if self.recursive else p.iterdir()
            found = sorted(f for f in walker if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise SourceError(f"images: no image files ({', '.join(IMAGE_SUFFIXES)}) in folder '{p}'")
            return found
        if not p.exists():
            raise SourceError(f"images: file not found: '{p}'")
        return [p]

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self._context = context

    @hookimpl
    def drid_frames(self) -> Sized[Frame]:
        found = self.files()
        files = found[self.start:self.stop:self.stride]
        if not files:
            raise SourceError(f"images: start={self.start}, stop={self.stop} leave none of the {len(found)} files of '{self.path}'")
        single = len(files) == 1

        def frames() -> Iterator[Frame]:
            index = 0
            for _ in range(self.repeat):
                for f in files:
                    image = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
                    if image is None or image.size == 0:
                        if single:
                            raise SourceError(f"images: cannot decode '{f}' (not an image, or corrupt)")
                        if self._context is not None:
                            self._context.skip_input("undecodable image file")
                        continue
                    yield Frame(index=index, timestamp=index * self.stride / self.fps, source=str(f), image=to_bgr(image))
                    index += 1

        return Sized(frames, len(files) * self.repeat)


class VideoSource:
    """Frames of a video file (MP4, AVI, GIF, …) or a camera, with stride and start/stop."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str | int = Field(description="a video file (MP4, AVI, GIF…), a stream URL, or a camera index such as 0; 'pkg:PACKAGE/PATH' is inside an installed package")
        stride: int = Field(default=1, ge=1, description="keep every n-th frame")
        start: int = Field(default=0, ge=0, description="first frame to read (file index)")
        stop: int | None = Field(default=None, ge=1, description="frame index to stop before (exclusive)")
        max_bad_frames: int = Field(default=25, ge=0, description="consecutive undecodable frames tolerated before giving up")

        @model_validator(mode="after")
        def _range(self) -> VideoSource.Params:
            if self.stop is not None and self.stop <= self.start:
                raise ValueError(f"stop ({self.stop}) must be after start ({self.start})")
            return self

    def __init__(self, path: str | int, stride: int = 1, start: int = 0, stop: int | None = None, max_bad_frames: int = 25) -> None:
        self.path = path
        self.stride = stride
        self.start = start
        self.stop = stop
        self.max_bad_frames = max_bad_frames
        self.camera = isinstance(path, int) or (isinstance(path, str) and path.isdigit())
        #: Cameras and streams lose frames when the pipeline falls behind; files never do.
        self.live = self.camera or (isinstance(path, str) and "://" in path)
        self._context: RunContext | None = None

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self._context = context

    def _open(self) -> tuple[Any, int | None, float]:
        target: str | int = int(self.path) if self.camera else media_path(str(self.path))
        if not self.live and not Path(str(target)).is_file():
            raise SourceError(f"video: file not found: '{self.path}'")
        cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            what = f"camera {target}" if self.camera else f"'{self.path}'"
            raise SourceError(f"video: cannot open {what} (not a video, corrupt, or an unsupported codec)")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if not self.live else 0
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if self.start and not self.live:
            cap.set(cv2.CAP_PROP_POS_FRAMES, self.start)
        return cap, (count if count > 0 else None), fps

    @hookimpl
    def drid_frames(self) -> Sized[Frame]:
        cap, count, fps = self._open()
        cap.release()  # probed only; each iteration opens its own capture
        length = None
        if count is not None:
            end = min(count, self.stop) if self.stop is not None else count
            length = max(0, -(-(end - self.start) // self.stride))
        return Sized(self._frames, length)

    def _frames(self) -> Iterator[Frame]:
        cap, count, fps = self._open()
        source = str(self.path) if self.live else media_path(str(self.path))
        try:
            position = self.start
            index = 0
            bad = 0
            while self.stop is None or position < self.stop:
                ok, image = cap.read()
                if not ok or image is None:
                    # End of the file, or a frame that does not decode: tell them apart by the
                    # container's frame count, and give up after too many bad frames in a row.
                    if count is None or position >= count - 1 or bad >= self.max_bad_frames:
                        if position == self.start and index == 0 and not self.live:
                            raise SourceError(f"video: '{source}' has no decodable frames")
                        break
                    bad += 1
                    if self._context is not None:
                        self._context.skip_input("undecodable video frame")
                    position += 1
                    continue
                bad = 0
                if (position - self.start) % self.stride == 0:
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
