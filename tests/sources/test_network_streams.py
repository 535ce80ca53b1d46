"""The video source reads network streams as live sources: drid's own MJPEG endpoint (drid
reading drid, across a restart of the serving pipeline) and a file over plain HTTP, all on
127.0.0.1; a URL that cannot be read is a one-line error saying why."""

from __future__ import annotations

import functools
import http.server
import shutil
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from drid import hookimpl
from drid.errors import ConfigError, SourceError
from drid.pipeline import Pipeline
from drid.sources.files import VideoSource

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from drid.sinks.serve import ServeSink


@pytest.fixture(scope="module")
def bikes() -> Path:
    from drid.demos.video import default_clip

    return default_clip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def still_frames(bikes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clip's first 40 frames as PNG files. The serving pipeline reads these rather than the
    MP4: OpenCV's FFmpeg backend opens one input at a time per process (a global lock), so a
    reader of this process's own stream, waiting for its first frame, would hold up a serving
    pipeline that opens a video at that moment. Two processes do not share it."""
    folder = tmp_path_factory.mktemp("bikes-frames")
    cap = cv2.VideoCapture(str(bikes))
    for i in range(40):
        ok, image = cap.read()
        assert ok
        cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    cap.release()
    return folder


class _Pace:
    """A detector that takes 40 ms a frame: the serving pipeline plays at about 25 frames/s."""

    @hookimpl
    def drid_detect(self, frame):
        time.sleep(0.04)
        return []


class _Served:
    """A pipeline playing the frames at about 25 frames/s with a serve sink on ``port``, in a
    thread, until ``stop()``."""

    def __init__(self, folder: Path, port: int) -> None:
        self.sink = ServeSink(port=port, announce=False, wait_for_viewer=30, max_fps=30)
        self.pipe = Pipeline(source=("images", {"path": str(folder), "repeat": 1000}), detect=[_Pace()], sinks=[self.sink])
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        for _ in range(600):  # its server is up (it then waits for a viewer)
            if self.sink.url is not None:
                break
            self.thread.join(timeout=0.05)

    def _run(self) -> None:
        for _ in self.pipe:
            if self.halt.is_set():
                break

    def stop(self) -> None:
        self.halt.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def test_drid_reads_drids_mjpeg_stream_across_a_restart_of_its_server(still_frames: Path) -> None:
    port = _free_port()
    first = _Served(still_frames, port)
    url = f"http://127.0.0.1:{port}/stream/0.mjpg"
    reader = Pipeline(source=("video", {"path": url, "backoff": 0.2, "timeout": 5}), max_frames=24)
    assert reader.source.instance.live
    second: list[_Served] = []
    frames = []
    with reader:
        for record in reader:
            frames.append(record.frame)
            if len(frames) == 8:  # the serving pipeline goes away mid-run, a new one comes up later
                first.stop()
                threading.Timer(1.0, lambda: second.append(_Served(still_frames, port))).start()
    try:
        summary = reader.summary
        assert summary.frames_read == summary.frames_out == 24 and not summary.drops
        assert all(f.image is not None and f.image.shape == (272, 640, 3) for f in frames)
        # The gap: counted among the source's skips, in the notes, and on the first frame after it.
        assert sum(summary.source_skips.values()) == 1
        assert any("lost its connection 1 time and reconnected" in note for note in summary.notes)
        resumed = [f for f in frames if "gap_s" in f.meta]
        assert len(resumed) == 1 and resumed[0].meta["gap_s"] > 0
        assert 8 <= frames.index(resumed[0]) < 24  # after the frames read (or already on their way) before the drop
        assert [f.index for f in frames] == list(range(24))
        assert all(b.timestamp > a.timestamp for a, b in zip(frames, frames[1:]))
        # The frames are the clip's pictures (annotated, JPEG-compressed): close to one of them.
        served = [cv2.imread(str(f)).astype(int) for f in sorted(still_frames.iterdir())]
        for frame in (frames[0], frames[-1]):
            assert min(np.abs(frame.image.astype(int) - s).mean() for s in served) < 8
    finally:
        for served in second:
            served.stop()


class _Files(http.server.SimpleHTTPRequestHandler):
    """Static files with ``Range`` requests, as any web server serves them (FFmpeg seeks in an
    MP4 whose index is at its end)."""

    def send_head(self):  # type: ignore[no-untyped-def]
        wanted = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not wanted.startswith("bytes=") or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, _, last = wanted[6:].partition("-")
        start, end = int(first or 0), min(int(last) if last else size - 1, size - 1)
        handle = path.open("rb")
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path: Path, bikes: Path):
    shutil.copy(bikes, tmp_path / "bikes.mp4")
    (tmp_path / "page.html").write_text("<html>not a video</html>")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Files, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_reads_a_video_file_over_http_as_a_live_source_with_the_files_pixels(http_folder: str, bikes: Path) -> None:
    pipe = Pipeline(source=("video", {"path": f"{http_folder}/bikes.mp4", "stop": 30}))
    with pipe:
        got = [r.frame.image for r in pipe]
    assert pipe.source.instance.live and len(got) == 30
    cap = cv2.VideoCapture(str(bikes))
    expected = [cap.read()[1] for _ in range(30)]
    cap.release()
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert not pipe.summary.source_skips


def test_a_whole_file_over_http_ends_normally_without_reconnecting(http_folder: str) -> None:
    pipe = Pipeline(source=("video", {"path": f"{http_folder}/bikes.mp4", "stride": 10}))
    pipe.run()
    assert pipe.summary.frames_out == 25 and not pipe.summary.source_skips and pipe.summary.error is None


def test_wrong_urls_are_one_line_errors_saying_why(http_folder: str) -> None:
    closed = _free_port()
    cases = {
        f"http://127.0.0.1:{closed}/cam.mjpg": f"connection refused by 127.0.0.1:{closed}",
        f"{http_folder}/missing.mp4": "HTTP 404",
        f"{http_folder}/page.html": "sends text/html, not a video stream",
    }
    for url, why in cases.items():
        with pytest.raises(SourceError) as info:
            Pipeline(source=("video", {"path": url, "timeout": 3})).run()
        message = str(info.value)
        assert why in message and url in message and "\n" not in message, message
    with pytest.raises(ConfigError, match="scheme 'ftp' is not a stream"):
        VideoSource(path="ftp://127.0.0.1/clip.mp4")


def test_a_password_in_the_url_is_not_shown(http_folder: str) -> None:
    closed = _free_port()
    with pytest.raises(SourceError) as info:
        Pipeline(source=("video", {"path": f"rtsp://admin:secret@127.0.0.1:{closed}/live", "timeout": 2})).run()
    assert "secret" not in str(info.value) and "admin:***@" in str(info.value)


def test_a_server_that_never_comes_back_ends_the_run_with_an_error_not_a_hang(still_frames: Path) -> None:
    port = _free_port()
    served = _Served(still_frames, port)
    reader = Pipeline(source=("video", {"path": f"http://127.0.0.1:{port}/stream/0.mjpg", "reconnect": 2, "backoff": 0.1, "timeout": 3}))
    got = 0
    with pytest.raises(SourceError) as info:
        with reader:
            for _ in reader:
                got += 1
                if got == 5:
                    served.stop()
    message = str(info.value)
    assert "could not reconnect (2 attempts)" in message and f"connection refused by 127.0.0.1:{port}" in message and "\n" not in message
    assert got >= 5 and reader.summary.frames_read == got


def test_a_server_that_answers_nothing_times_out(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # accepts connections (the kernel does) and never answers
    try:
        with pytest.raises(SourceError) as info:
            Pipeline(source=("video", {"path": f"http://127.0.0.1:{silent.getsockname()[1]}/cam.mjpg", "timeout": 1})).run()
    finally:
        silent.close()
    assert "cannot open stream" in str(info.value) and "timed out" in str(info.value), str(info.value)


def test_reads_an_hls_playlist(http_folder: str, tmp_path: Path, bikes: Path) -> None:
    # Three one-second MPEG-TS segments of the clip and their playlist, as an HLS server has them.
    cap = cv2.VideoCapture(str(bikes))
    for seg in range(3):
        writer = cv2.VideoWriter(str(tmp_path / f"seg{seg}.ts"), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (640, 272))
        assert writer.isOpened()
        for _ in range(25):
            writer.write(cap.read()[1])
        writer.release()
    cap.release()
    (tmp_path / "index.m3u8").write_text("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
                                         + "".join(f"#EXTINF:1.0,\nseg{i}.ts\n" for i in range(3)) + "#EXT-X-ENDLIST\n")
    pipe = Pipeline(source=("video", {"path": f"{http_folder}/index.m3u8"}))
    with pipe:
        frames = [r.frame for r in pipe]
    assert len(frames) == 75 and all(f.image is not None and f.image.shape == (272, 640, 3) for f in frames)
    assert not pipe.summary.source_skips and pipe.summary.error is None


def test_realtime_plays_a_file_no_faster_than_its_timestamps(bikes: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import drid.sources.files as files

    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # a clock that moves only when the source waits
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(files.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(files.time, "sleep", sleep)
    pipe = Pipeline(source=("video", {"path": str(bikes), "stop": 25, "realtime": True}))
    with pipe:
        stamps = [r.frame.timestamp for r in pipe]
    assert len(slept) == 24 and sum(slept) == pytest.approx(stamps[-1] - stamps[0])  # 24 waits of 1/25 s
    assert not VideoSource(path=str(bikes)).params.realtime  # files run as fast as they decode by default
