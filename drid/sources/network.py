"""Network streams for the ``video`` source: ``rtsp://``, ``http(s)://`` (MJPEG, HLS, MP4 where
OpenCV's FFmpeg backend reads them) and the other schemes FFmpeg speaks, read as live sources.

:class:`StreamReader` opens the stream with a connection and read timeout, and after a dropped
connection (a read that fails or times out before the stream's known end) reconnects with
exponential backoff: each gap is reported (``on_gap``) with its length and the attempts it took;
after ``attempts`` failed tries in a row it gives up with an error that says so, so a dead camera
ends the run instead of hanging it. A stream that cannot be opened at all fails at once with a
one-line reason (host not found, connection refused, HTTP 404, not a video)."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from drid.errors import SourceError

__all__ = ["STREAM_SCHEMES", "Gap", "StreamReader", "check_url", "diagnose", "is_stream"]

#: URL schemes the ``video`` source hands to FFmpeg as live streams.
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}


def is_stream(path: Any) -> bool:
    """Whether ``path`` is a URL (``scheme://…``) rather than a file or a camera index."""
    return isinstance(path, str) and "://" in path


def check_url(url: str) -> None:
    """``ValueError`` unless ``url`` has a scheme of :data:`STREAM_SCHEMES` and a host."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in STREAM_SCHEMES:
        raise ValueError(f"'{url}': the scheme '{parts.scheme}' is not a stream the video source reads ({', '.join(STREAM_SCHEMES)})")
    if not parts.hostname:
        raise ValueError(f"'{url}' names no host")


def redacted(url: str) -> str:
    """``url`` without a password (``rtsp://user:secret@cam`` → ``rtsp://user:***@cam``): what
    messages and frame sources show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def diagnose(url: str, timeout: float) -> str:
    """Why ``url`` does not open, in a few words: the host, the port, the HTTP answer, or the
    content; the last resort is the format."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return f"the port in '{parts.netloc}' is not a number"
    try:
        socket.getaddrinfo(host, port)
    except socket.gaierror:
        return f"host '{host}' not found"
    if port is not None and scheme not in ("udp", "srt"):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except ConnectionRefusedError:
            return f"connection refused by {host}:{port} (nothing listens there)"
        except TimeoutError:
            return f"no answer from {host}:{port} within {timeout:g} s"
        except OSError as exc:
            return f"cannot connect to {host}:{port}: {exc.strerror or exc}"
    if scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "drid"}), timeout=timeout) as answer:
                kind = answer.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            return f"the server answered HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            return f"the request failed: {getattr(exc, 'reason', exc)}"
        if kind.startswith("text/") or kind in ("application/json", "application/xml"):
            return f"the server sends {kind}, not a video stream"
        return f"OpenCV's FFmpeg backend cannot read its {kind} content (unsupported format or codec)"
    return "OpenCV's FFmpeg backend cannot read it (unsupported format or codec, or the stream does not exist)"


def open_capture(url: str, timeout: float) -> Any:
    """A ``cv2.VideoCapture`` of ``url`` with FFmpeg's open and read timeouts set."""
    ms = int(timeout * 1000)
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])


@dataclass(frozen=True)
class Gap:
    """A lost connection that came back: after frame ``after`` (the position read last), it took
    ``seconds`` from the failed read to the next frame and ``attempts`` reconnections."""

    after: int
    seconds: float
    attempts: int
    reason: str


class StreamReader:
    """Frames of one network stream, reconnecting after drops (see the module's docstring).

    Iterating yields ``(position, image, gap)``: ``position`` counts frames read since the start
    (a finite stream is resumed where it broke), ``gap`` is the :class:`Gap` just closed by this
    frame, else ``None``."""

    def __init__(self, url: str, *, timeout: float, attempts: int, backoff: float, backoff_max: float = 8.0,
                 on_gap: Callable[[Gap], None] | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.on_gap = on_gap
        self.sleep = sleep
        self.cap: Any = None
        self.count: int | None = None
        self.fps = 0.0
        self.gaps: list[Gap] = []

    def open(self) -> None:
        """Connect; ``SourceError`` with the reason when the stream cannot be read at all."""
        cap = open_capture(self.url, self.timeout)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"video: cannot open stream '{redacted(self.url)}': {diagnose(self.url, self.timeout)}")
        self._adopt(cap)

    def _adopt(self, cap: Any) -> None:
        self.cap = cap
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.count = count if count > 0 else None  # a file served over HTTP knows its length
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)

    def release(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None

    def _reconnect(self, position: int, tried: int) -> int:
        """Reopen after a drop (resuming a finite stream at ``position``); the attempts made since
        the connection was lost, ``tried`` before this call. ``SourceError`` once ``attempts``
        were made without a frame coming back."""
        self.release()
        delay = min(self.backoff * 2 ** tried, self.backoff_max)
        for attempt in range(tried + 1, self.attempts + 1):
            self.sleep(delay)
            cap = open_capture(self.url, self.timeout)
            if cap.isOpened():
                self._adopt(cap)
                if self.count is not None and position:
                    cap.set(cv2.CAP_PROP_POS_FRAMES, position)
                return attempt
            cap.release()
            delay = min(delay * 2, self.backoff_max)
        why = diagnose(self.url, min(self.timeout, 5.0))
        raise SourceError(f"video: lost stream '{redacted(self.url)}' after {position} frames and could not reconnect "
                          f"({self.attempts} attempts): {why}")

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, Gap | None]]:
        if self.cap is None:
            self.open()
        position = 0
        lost_at: float | None = None
        attempts = 0
        try:
            while True:
                ok, image = self.cap.read()
                if ok and image is not None:
                    gap = None
                    if lost_at is not None:
                        gap = Gap(after=position - 1, seconds=time.monotonic() - lost_at, attempts=attempts, reason="connection lost")
                        self.gaps.append(gap)
                        if self.on_gap is not None:
                            self.on_gap(gap)
                        lost_at, attempts = None, 0
                    yield position, image, gap
                    position += 1
                    continue
                if self.count is not None and position >= self.count - 1:
                    return  # the end of a finite stream (a file served over HTTP)
                if self.attempts == 0:
                    raise SourceError(f"video: lost stream '{redacted(self.url)}' after {position} frames (reconnect: 0)")
                if lost_at is None:
                    lost_at = time.monotonic()
                attempts = self._reconnect(position, attempts)
        finally:
            self.release()
