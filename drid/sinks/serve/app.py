"""The web application of the serve sink (Starlette): the page, its static files, the live state
as JSON, the preview frames (one JPEG per request for the page, MJPEG for players and other
pipelines) and the Prometheus metrics.

=========================  ======================================================================
``GET /``                  the page (``static/index.html``; its script and style are served here too)
``GET /api/state``         the live state (see :mod:`drid.sinks.serve.state`)
``GET /frame/{source}``    the next annotated JPEG of a source; ``viewer=ID`` keeps one viewer's
                           account across requests; waits up to 10 s for a newer frame (then 204)
``GET /stream/{source}.mjpg``  the annotated frames as ``multipart/x-mixed-replace`` (MJPEG)
``GET /metrics``           Prometheus text exposition format
=========================  ======================================================================

Every waiting request waits for the encoder thread, never for the pipeline: a viewer that does
not read blocks only its own response."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from importlib import resources

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from drid.pipeline.stats import RunSummary
from drid.sinks.serve.hub import LiveHub, Preview, Viewer
from drid.sinks.serve.state import live_state

__all__ = ["BOUNDARY", "LiveApp"]

#: The multipart boundary of the MJPEG stream.
BOUNDARY = "drid-frame"
_FRAME_WAIT_S = 10.0
_PAGE_VIEWER_IDLE_S = 15.0  # a page that stopped asking for frames this long ago has left


class LiveApp:
    """The routes over one hub; ``summary()`` gives the run's live summary (``None`` before a run)."""

    def __init__(self, hub: LiveHub, summary: Callable[[], RunSummary | None], stages: Callable[[], dict[str, list[str]]], name: str,
                 registry: CollectorRegistry) -> None:
        self.hub = hub
        self.summary = summary
        self.stages = stages
        self.name = name
        self.registry = registry
        self.loop: asyncio.AbstractEventLoop | None = None
        self._events: dict[int, asyncio.Event] = {}
        self._page_viewers: dict[tuple[str, int], Viewer] = {}
        hub.on_preview = self._published
        static = resources.files("drid.sinks.serve").joinpath("static")
        self.static_dir = str(static)
        self.app = Starlette(routes=[
            Route("/", self.page),
            Route("/api/state", self.state),
            Route("/frame/{source:int}", self.frame),
            Route("/stream/{source:int}.mjpg", self.stream),
            Route("/stream.mjpg", self.stream),
            Route("/metrics", self.metrics),
            Mount("/static", app=StaticFiles(directory=self.static_dir), name="static"),
        ])

    # -- waking the waiting requests -----------------------------------------------------------
    def _event(self, source: int) -> asyncio.Event:
        event = self._events.get(source)
        if event is None:
            event = self._events[source] = asyncio.Event()
        return event

    def _published(self, source: int) -> None:
        """From the encoder thread: a new preview of ``source`` (or ``-1``: everything closes)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._wake, source)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def _wake(self, source: int) -> None:
        targets = list(self._events) if source < 0 else [source]
        for s in targets:
            event = self._events.pop(s, None)
            if event is not None:
                event.set()

    async def next_preview(self, viewer: Viewer, wait: float | None) -> Preview | None:
        """The first preview newer than the viewer's last; ``None`` when the hub closes or ``wait``
        seconds pass."""
        self.loop = asyncio.get_running_loop()
        deadline = None if wait is None else time.monotonic() + wait
        while not self.hub.closed:
            view = self.hub.view(viewer.source)
            latest = view.seq if view is not None else 0
            if viewer.waiting_since_seq is None:
                viewer.start_waiting(latest)
                self.hub.request()
            if view is not None and view.preview is not None and view.preview.seq > viewer.last_seq:
                return view.preview
            left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self._event(viewer.source).wait(), timeout=left)
            except asyncio.TimeoutError:
                pass
        return None

    # -- routes ----------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        return FileResponse(f"{self.static_dir}/index.html", headers={"Cache-Control": "no-store"})

    async def state(self, request: Request) -> Response:
        self._expire_page_viewers()
        return JSONResponse(live_state(self.hub, self.summary(), self.stages(), self.name), headers={"Cache-Control": "no-store"})

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def frame(self, request: Request) -> Response:
        source = int(request.path_params["source"])
        ident = request.query_params.get("viewer", "")
        key = (ident, source)
        viewer = self._page_viewers.get(key) if ident else None
        if viewer is None:
            viewer = self.hub.join(source, "page")
            if ident:
                self._page_viewers[key] = viewer
        try:
            preview = await self.next_preview(viewer, _FRAME_WAIT_S)
        finally:
            if not ident:
                self.hub.leave(viewer)
        if preview is None:
            return Response(status_code=204, headers={"Cache-Control": "no-store"})
        viewer.took(preview)
        return Response(preview.jpeg, media_type="image/jpeg", headers={
            "Cache-Control": "no-store", "X-Frame-Index": str(preview.index), "X-Frame-Seq": str(preview.seq),
            "X-Frame-Timestamp": f"{preview.timestamp:.3f}",
        })

    async def stream(self, request: Request) -> Response:
        source = int(request.path_params.get("source", 0))
        viewer = self.hub.join(source, "mjpeg")

        async def parts() -> AsyncIterator[bytes]:
            try:
                while True:
                    preview = await self.next_preview(viewer, None)
                    if preview is None:
                        return
                    viewer.took(preview)
                    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(preview.jpeg)}\r\n\r\n".encode()
                    yield head + preview.jpeg + b"\r\n"
            finally:
                self.hub.leave(viewer)

        return StreamingResponse(parts(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                 headers={"Cache-Control": "no-store", "Connection": "close"})

    def _expire_page_viewers(self) -> None:
        now = time.monotonic()
        for key, viewer in list(self._page_viewers.items()):
            if viewer.waiting_since_seq is None and now - viewer.last_active > _PAGE_VIEWER_IDLE_S:
                del self._page_viewers[key]
                self.hub.leave(viewer)

    def close(self) -> None:
        """Every page viewer leaves (its account goes to the source's totals); waiters wake."""
        for viewer in list(self._page_viewers.values()):
            self.hub.leave(viewer)
        self._page_viewers.clear()
        self._published(-1)
