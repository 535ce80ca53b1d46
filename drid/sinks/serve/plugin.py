"""The ``serve`` sink: a live web page of the running pipeline, served by the pipeline process."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from pydantic import Field

from drid.errors import ConfigError
from drid.pipeline.context import RunContext, RunSummary
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin
from drid.schemas import FrameRecord
from drid.sinks.annotated import _DrawingParams
from drid.sinks.serve.hub import LiveHub

__all__ = ["ServeSink"]

_EXTRA_HINT = "the live view needs the 'serve' extra: pip install 'drid[serve]'"


class ServeSink(Plugin):
    """A web page of the running pipeline at ``http://HOST:PORT/``: the annotated video of each
    source, the latest decision with its rationale, the scene's situations and facts, recent
    events, counts per zone and line, every stage's and plugin's frames, queue depth and latency,
    the drops with their reasons and a plot of frames/s; Prometheus metrics at ``/metrics``.

    The server (Starlette on uvicorn) runs in a thread of the pipeline process from
    ``drid_start`` to ``drid_stop``. Writing a frame only stores it: frames are drawn (with the
    ``Annotator`` of the ``annotated-video`` sink) and JPEG-encoded in a thread of their own, and
    only when a viewer waits for one, so viewing never holds the pipeline back: a slow or absent
    viewer misses preview frames (counted per reason), never pipeline frames."""

    drid_name = "serve"

    class Params(_DrawingParams):
        host: str = Field(default="127.0.0.1", min_length=1, description="address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)")
        port: int = Field(default=8000, ge=0, le=65535, description="TCP port (0: any free one; the address is printed and noted in the summary)")
        # 15 previews/s look smooth to a person and stay cheap: a 640×272 frame of bikes.mp4 is
        # about 11 KB at quality 80 (165 KB/s to a viewer), drawn and encoded in a few ms off
        # the pipeline's threads; the demo pipelines run at 4 to 40 frames/s on this machine.
        max_fps: float = Field(default=15.0, gt=0, le=120, description="preview frames per second per source at most (encoding costs CPU the pipeline may want)")
        quality: int = Field(default=80, ge=10, le=100, description="JPEG quality of the preview frames")
        wait_for_viewer: float = Field(default=0.0, ge=0, le=86_400, description="seconds to wait for a first viewer before the first frame is read (0: start at once)")
        linger: float = Field(default=0.0, ge=0, le=86_400, description="seconds to keep serving the final state after the run ends (a last look, a last metrics scrape)")
        announce: bool = Field(default=True, description="print the page's address on standard error when the server is up")

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.hub: LiveHub | None = None
        self.url: str | None = None
        self.port: int | None = None
        self._summary: RunSummary | None = None
        self._stages: dict[str, list[str]] = {}
        self._name = "pipeline"
        self._server: Any = None
        self._app: Any = None
        self._viewer = threading.Event()
        self._closed = threading.Event()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------
    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Binds the port (a port in use fails here, naming it), starts the server and the encoder
        thread, and waits up to ``wait_for_viewer`` seconds for a first viewer."""
        self.close()  # a previous run's lingering server
        try:
            from prometheus_client import CollectorRegistry, ProcessCollector

            from drid.sinks.serve.app import LiveApp
            from drid.sinks.serve.metrics import PipelineCollector
            from drid.sinks.serve.server import ServerThread, bind
        except ImportError as exc:
            raise ConfigError(f"{_EXTRA_HINT} (missing module '{exc.name}')") from None
        p = self.params
        self._summary, self._stages, self._name = context.summary, dict(context.stages), context.name
        self._closed.clear()
        self._viewer.clear()
        drawing = {"trail": p.trail, "facts": p.facts, "banner": p.banner, "zones": p.zones, "lines": p.lines}
        hub = LiveHub(drawing, max_fps=p.max_fps, quality=p.quality, scale=p.scale)
        hub.status = "waiting for a viewer" if p.wait_for_viewer else "running"
        hub.on_join = self._viewer.set
        registry = CollectorRegistry()
        registry.register(PipelineCollector(hub, lambda: self._summary, context.name, context.mode))
        ProcessCollector(registry=registry)
        app = LiveApp(hub, lambda: self._summary, lambda: self._stages, context.name, registry)
        try:
            sock = bind(p.host, p.port)
        except OSError as exc:
            raise ConfigError(str(exc), path="params.port") from None
        server = ServerThread(app.app, sock)
        hub.start()
        try:
            server.start()
        except BaseException:
            hub.close()
            raise
        self.hub, self._app, self._server, self.port = hub, app, server, server.port
        shown = f"[{server.host}]" if ":" in server.host else server.host
        self.url = f"http://{shown}:{server.port}/"
        if p.announce:
            print(f"drid: live view at {self.url} (metrics at {self.url}metrics)", file=sys.stderr, flush=True)
        if p.wait_for_viewer:
            deadline = time.monotonic() + p.wait_for_viewer
            try:
                while not self._viewer.wait(timeout=0.1) and time.monotonic() < deadline:
                    pass
            except BaseException:  # Ctrl-C while waiting: drid_stop will not be called (not started)
                self.close()
                raise
            hub.status = "running"
        hub.started = time.monotonic()

    @hookimpl
    def drid_write(self, record: FrameRecord) -> None:
        """Stores the frame for the viewers and counts it (the drawing happens elsewhere, if at all)."""
        hub = self.hub
        if hub is not None:
            hub.push(record)

    @hookimpl
    def drid_stop(self, summary: RunSummary) -> None:
        """Shows the run's outcome; stops the server now, or after ``linger`` seconds."""
        hub = self.hub
        if hub is None:
            return
        self._summary = summary
        hub.finished = time.monotonic()
        hub.status = "interrupted" if summary.interrupted else ("failed" if summary.error else "done")
        totals = [hub.preview_counts(view) for view in hub.order]
        sent = sum(t["sent"] for t in totals)
        dropped: dict[str, int] = {}
        for t in totals:
            for reason, n in t["dropped"].items():
                dropped[reason] = dropped.get(reason, 0) + n
        missed = ", ".join(f"{reason} {n}" for reason, n in sorted(dropped.items()) if n)
        if not hub.joined:
            summary.notes.append(f"serve: {self.url}: no viewer connected")
        else:
            summary.notes.append(f"serve: {self.url} sent {sent} preview frames" + (f", viewers missed {sum(dropped.values())} ({missed})" if missed else ""))
        if self.params.linger > 0:
            self._timer = threading.Timer(self.params.linger, self.close)
            self._timer.daemon = True
            self._timer.name = "drid-serve-linger"
            self._timer.start()
        else:
            self.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped (after ``linger``, or :meth:`close`); whether it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed.wait(timeout=0.1):
            if deadline is not None and time.monotonic() >= deadline:
                return False
        return True

    def close(self) -> None:
        """Stop serving now: viewers are let go, the server and the encoder thread end. Idempotent."""
        with self._lock:
            timer, self._timer = self._timer, None
            if timer is not None and timer is not threading.current_thread():
                timer.cancel()
            hub, app, server = self.hub, self._app, self._server
            self._app = self._server = None
            if hub is not None:
                hub.close()
            if app is not None:
                app.close()
            if server is not None:
                server.stop()
            self._closed.set()
