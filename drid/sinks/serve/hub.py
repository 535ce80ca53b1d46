"""What the pipeline and the web server share: the latest record of each source, the preview
JPEGs, the counts per zone and line, the recent events and decisions, frames/s over time, and
the preview viewers with the frames each was sent or missed.

The pipeline's side (:meth:`LiveHub.push`, called by the sink for every frame) only stores
references and bumps counters: no drawing, no encoding. A separate encoder thread draws and
encodes a frame only when a viewer is waiting for one, at most ``max_fps`` times a second per
source, so that no viewer costs almost nothing and a slow viewer never holds the pipeline back:
it misses preview frames, which are counted per reason."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drid.schemas import Event, FrameRecord
from drid.sinks.draw import Annotator
from drid.sources.files import IMAGE_SUFFIXES

__all__ = ["DROP_BUSY", "DROP_RATE", "LiveHub", "Preview", "SourceView", "Viewer", "view_name"]

#: Why a viewer missed a preview frame: it was still taking the previous one (a slow or stalled
#: client), or the encoder's ``max_fps`` skipped the frame while the viewer waited.
DROP_BUSY = "viewer busy"
DROP_RATE = "preview rate limit"

_RECENT_EVENTS = 40
_RECENT_DECISIONS = 20
_FPS_WINDOW_S = 2.0
_FPS_HISTORY = 240  # samples, one per SAMPLE_S
SAMPLE_S = 0.5
_PENDING = 4096


def view_name(source: str) -> str:
    """The view a frame of ``source`` is shown in: one per video file, stream or camera; the
    still images of one folder share one (the ``images`` source names each frame by its file)."""
    if not source:
        return "source"
    if Path(source).suffix.lower() in IMAGE_SUFFIXES:
        return str(Path(source).parent)
    return source


class _OnceAnnotator(Annotator):
    """An ``Annotator`` that observes each frame once, however often it is drawn: the encoder
    observes every record in order (copies without pixels) and draws only some of them
    (``annotate`` observes too)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._observed: tuple[str, int] | None = None

    def observe(self, record: FrameRecord) -> None:
        key = (record.frame.source, record.frame.index)
        if key == self._observed:
            return
        self._observed = key
        super().observe(record)


def _without_pixels(record: FrameRecord) -> FrameRecord:
    """``record`` sharing everything but the frame's image (what observing needs; no copy of
    the detections, and no image kept alive while the record waits to be observed)."""
    if record.frame.image is None:
        return record
    return record.model_copy(update={"frame": record.frame.model_copy(update={"image": None})})


@dataclass
class Preview:
    """One encoded preview frame: the JPEG of the record numbered ``seq`` of its source."""

    seq: int
    index: int
    timestamp: float
    jpeg: bytes


@dataclass
class Viewer:
    """One client watching one source (an MJPEG connection, or the page's frame requests).

    Every frame of the source written while the viewer is connected ends either in ``sent`` or
    in ``dropped`` with its reason."""

    source: int
    kind: str
    joined_seq: int
    last_seq: int
    sent: int = 0
    waiting_since_seq: int | None = None
    dropped: dict[str, int] = field(default_factory=lambda: {DROP_BUSY: 0, DROP_RATE: 0})
    last_active: float = field(default_factory=time.monotonic)

    def start_waiting(self, latest_seq: int) -> None:
        """The viewer is ready for a frame newer than ``last_seq``; frames up to ``latest_seq``
        came while it was busy."""
        self.waiting_since_seq = latest_seq
        self.last_active = time.monotonic()

    def took(self, preview: Preview) -> None:
        """It was sent ``preview``: the frames between its last one and this one are dropped,
        those that came while it was busy as such, the rest by the rate limit."""
        since = self.waiting_since_seq if self.waiting_since_seq is not None else preview.seq
        busy = max(0, min(since, preview.seq - 1) - self.last_seq)
        self.dropped[DROP_BUSY] += busy
        self.dropped[DROP_RATE] += max(0, preview.seq - 1 - self.last_seq - busy)
        self.last_seq = preview.seq
        self.sent += 1
        self.waiting_since_seq = None
        self.last_active = time.monotonic()

    def leave(self, latest_seq: int) -> None:
        """It disconnected: the frames since its last one are dropped (busy, or rate-limited
        when it was waiting)."""
        missed = max(0, latest_seq - self.last_seq)
        self.dropped[DROP_RATE if self.waiting_since_seq is not None else DROP_BUSY] += missed
        self.last_seq = latest_seq


class SourceView:
    """One source of the pipeline as the page shows it."""

    def __init__(self, ident: int, name: str, annotator: Annotator) -> None:
        self.id = ident
        self.name = name
        self.annotator = annotator
        self.seq = 0  # records written
        self.latest: FrameRecord | None = None
        self.preview: Preview | None = None
        self.last_encode = 0.0
        self.events: deque[tuple[int, float, Event]] = deque(maxlen=_RECENT_EVENTS)
        self.decisions: deque[tuple[int, float, str, str]] = deque(maxlen=_RECENT_DECISIONS)
        self.zones: dict[str, dict[str, int]] = {}
        self.lines: dict[str, dict[str, int]] = {}
        self.occupancy: dict[str, int] = {}
        self.samples: deque[tuple[float, int]] = deque(maxlen=_FPS_HISTORY)
        self.times: deque[float] = deque()
        # Preview accounting of viewers that left (the live ones are in LiveHub.viewers).
        self.sent_gone = 0
        self.dropped_gone = {DROP_BUSY: 0, DROP_RATE: 0}

    def fps(self, now: float) -> float:
        """Frames written per second over the last ``_FPS_WINDOW_S`` seconds (0 once none came
        for that long)."""
        times = self.times
        while times and times[0] < now - _FPS_WINDOW_S:
            times.popleft()
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)


class LiveHub:
    """The shared state of one serve sink (see the module's docstring); ``drawing`` holds the
    ``Annotator``'s arguments, one annotator per source."""

    def __init__(self, drawing: dict[str, Any], *, max_fps: float, quality: int, scale: float = 1.0) -> None:
        self.drawing = drawing  # the Annotator's arguments (trail, facts, banner, zones, lines)
        self.max_fps = max_fps
        self.quality = quality
        self.scale = scale
        self.sources: dict[str, SourceView] = {}
        self.order: list[SourceView] = []
        self.viewers: list[Viewer] = []
        # Records (without pixels) the encoder has not observed yet; it observes them all at each
        # turn, at least twice a second, so this stays short unless its thread is starved: then the
        # oldest go (a trail misses a point).
        self.pending: deque[FrameRecord] = deque(maxlen=_PENDING)
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.closed = False
        self.started = time.monotonic()
        self.finished: float | None = None
        self.status = "starting"
        self.joined = 0  # viewers that came, over the run (an MJPEG connection, a page)
        #: Called (from the encoder thread) after a new preview of a source is published.
        self.on_preview: Callable[[int], None] | None = None
        #: Called when a viewer joins.
        self.on_join: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None

    # -- the pipeline's side -------------------------------------------------------------------
    def push(self, record: FrameRecord) -> None:
        """A frame the pipeline wrote: store it and count it (cheap: no drawing here)."""
        name = view_name(record.frame.source)
        now = time.monotonic()
        with self.lock:
            view = self.sources.get(name)
            if view is None:
                view = SourceView(len(self.order), name, _OnceAnnotator(**self.drawing))
                # The zones and lines drawn are shown from the start, with nothing counted yet.
                for zone in self.drawing.get("zones", ()):
                    view.zones[str(zone["name"])] = {"entered": 0, "exited": 0}
                for line in self.drawing.get("lines", ()):
                    view.lines[str(line["name"])] = {}
                self.sources[name] = view
                self.order.append(view)
            view.seq += 1
            view.latest = record
            view.times.append(now)
            self.pending.append(_without_pixels(record))
            if self._waiting(view):  # else the encoder catches up at its next turn (twice a second)
                self.wake.notify()
        self._tally(view, record)

    def _tally(self, view: SourceView, record: FrameRecord) -> None:
        frame = record.frame
        scene = record.scene
        if scene is not None:
            for event in scene.events:
                if event.name in ("appeared", "continued"):
                    continue
                view.events.append((frame.index, frame.timestamp, event))
                data = event.data
                if event.name == "crossed_line" and "line" in data:
                    tally = view.lines.setdefault(str(data["line"]), {})
                    direction = str(data.get("direction", "crossed"))
                    tally[direction] = tally.get(direction, 0) + 1
                elif event.name in ("entered_zone", "exited_zone") and "zone" in data:
                    tally = view.zones.setdefault(str(data["zone"]), {"entered": 0, "exited": 0})
                    tally["entered" if event.name == "entered_zone" else "exited"] += 1
            occupancy: dict[str, int] = dict.fromkeys(view.zones, 0)
            for obj in scene.objects:
                zones = obj.attributes.get("zones") if obj.attributes else None
                for zone in zones if isinstance(zones, (list, tuple)) else ():
                    occupancy[str(zone)] = occupancy.get(str(zone), 0) + 1
            view.occupancy = occupancy
        decision = record.decision
        if decision is not None:
            action = str(decision.action)
            if not view.decisions or view.decisions[-1][2] != action:
                view.decisions.append((frame.index, frame.timestamp, action, decision.rationale))

    # -- the encoder thread ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._encode_loop, name="drid-serve-encoder", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def request(self) -> None:
        """A viewer began to wait: the encoder looks at once (the newest frame may be unencoded)."""
        with self.lock:
            self.wake.notify()

    def _waiting(self, view: SourceView) -> bool:
        return any(v.source == view.id and v.waiting_since_seq is not None and v.last_seq < view.seq for v in self.viewers)

    def _encode_loop(self) -> None:
        next_sample = time.monotonic()
        while True:
            with self.lock:
                if self.closed:
                    return
                due = [v for v in self.order if self._waiting(v) and (v.preview is None or v.preview.seq < v.seq)
                       and v.latest is not None and v.latest.frame.image is not None]  # frames without pixels: nothing to show
                if not due:  # until the next sample, a viewer waiting for a new frame, or close()
                    self.wake.wait(timeout=max(0.0, next_sample - time.monotonic()))
                if self.closed:
                    return
                batch = list(self.pending)
                self.pending.clear()
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + SAMPLE_S
                for view in list(self.order):
                    view.samples.append((now - self.started, view.seq))
            for record in batch:  # every record, in order: trails and line counts need them all
                view = self.sources[view_name(record.frame.source)]
                view.annotator.observe(record)
            for view in list(self.order):
                self._maybe_encode(view)

    def _maybe_encode(self, view: SourceView) -> None:
        record = view.latest
        if record is None or record.frame.image is None or not self._waiting(view):
            return
        if view.preview is not None and view.preview.seq >= view.seq:
            return
        if self.max_fps and time.monotonic() - view.last_encode < 1.0 / self.max_fps:
            with self.lock:  # come back when the interval is over
                self.wake.wait(timeout=1.0 / self.max_fps - (time.monotonic() - view.last_encode))
            return
        seq = view.seq
        record = view.latest
        assert record is not None and record.frame.image is not None
        image = view.annotator.annotate(record)
        if self.scale != 1.0:
            image = cv2.resize(image, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR)
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return
        view.last_encode = time.monotonic()
        view.preview = Preview(seq=seq, index=record.frame.index, timestamp=record.frame.timestamp, jpeg=buf.tobytes())
        if self.on_preview is not None:
            self.on_preview(view.id)

    # -- viewers ----------------------------------------------------------------------------------
    def join(self, source: int, kind: str) -> Viewer:
        view = self.order[source] if source < len(self.order) else None
        seq = view.seq if view is not None else 0
        viewer = Viewer(source=source, kind=kind, joined_seq=seq, last_seq=seq - 1 if seq else 0)
        with self.lock:
            self.viewers.append(viewer)
            self.joined += 1
        if self.on_join is not None:
            self.on_join()
        return viewer

    def leave(self, viewer: Viewer) -> None:
        with self.lock:
            if viewer not in self.viewers:
                return
            self.viewers.remove(viewer)
        view = self.order[viewer.source] if viewer.source < len(self.order) else None
        if view is not None:
            viewer.leave(view.seq)
            view.sent_gone += viewer.sent
            for reason, n in viewer.dropped.items():
                view.dropped_gone[reason] = view.dropped_gone.get(reason, 0) + n

    def preview_counts(self, view: SourceView) -> dict[str, Any]:
        """Preview frames sent and dropped (per reason) for ``view``, over every viewer so far."""
        with self.lock:
            live = [v for v in self.viewers if v.source == view.id]
        sent = view.sent_gone + sum(v.sent for v in live)
        dropped = dict(view.dropped_gone)
        for v in live:
            for reason, n in v.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + n
            # Frames it missed so far and will not be sent any more (only the newest one still may).
            behind = v.waiting_since_seq if v.waiting_since_seq is not None else view.seq
            dropped[DROP_BUSY] += max(0, behind - 1 - v.last_seq)
        return {"sent": sent, "dropped": dropped, "viewers": len(live)}

    def view(self, source: int) -> SourceView | None:
        return self.order[source] if 0 <= source < len(self.order) else None

    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started
