"""The two schedulers of a run: ``SequentialRun`` (frames one at a time on the caller's thread)
and ``ConcurrentRun`` (source and stages in threads joined by bounded queues). Both drive a
``FramePath`` and know nothing else of the pipeline; the caller hands each finished frame to
``FramePath.finish``."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from drid.errors import StageError
from drid.pipeline._frame_path import FramePath
from drid.pipeline._signals import raise_pending, whole
from drid.pipeline._stages import FrameDropped, FrameState, Stage

__all__ = ["ConcurrentRun", "SequentialRun"]

_END = object()


class _Failure:
    """Travels down the queues in frame order: frames before it are finished and written, the
    error is raised when the consumer reaches it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class SequentialRun:
    """Frames one at a time through every stage, on the caller's thread."""

    def __init__(self, path: FramePath) -> None:
        self.path = path
        self.stopped = False

    def next(self) -> FrameState | None:
        path = self.path
        while not self.stopped:
            state = path.read()
            if state is None:
                return None
            try:
                kept = path.process(state)
                path.closed_loop_step(state, decided=kept)
            except KeyboardInterrupt:
                path.summary.drop("interrupted")
                raise
            if kept:
                return state
        return None

    def interrupt(self) -> None:
        self.stopped = True

    def shutdown(self, reason: str, wait: float = 60.0) -> None:
        self.path.close_source()
        summary = self.path.summary
        lost = summary.frames_read - summary.frames_out - summary.frames_dropped
        if lost > 0:
            summary.drop(reason, lost)


class ConcurrentRun:
    """Source and each stage in their own thread, joined by bounded queues (backpressure); the
    caller's thread runs the sinks. One worker per stage keeps frames in order."""

    _POLL = 0.05

    def __init__(self, path: FramePath, *, name: str, queue_size: int, overflow: str) -> None:
        self.path = path
        self.queue_size = queue_size
        n = len(path.stages)
        self.queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=queue_size) for _ in range(n + 1)]
        self.stop_source = threading.Event()
        self.abort = threading.Event()
        self.error: BaseException | None = None
        self.drop_oldest = overflow == "drop-oldest" and path.live
        if overflow == "drop-oldest" and not path.live:
            path.summary.notes.append("overflow 'drop-oldest' ignored: the source is not live (files never drop frames)")
        self.threads = [threading.Thread(target=self._source_worker, name=f"drid-{name}-source", daemon=True)]
        for i, stage in enumerate(path.stages):
            self.threads.append(threading.Thread(target=self._stage_worker, args=(stage, self.queues[i], self.queues[i + 1]), name=f"drid-{name}-{stage.name}", daemon=True))
        for t in self.threads:
            t.start()

    def _fail(self, q_out: queue.Queue[Any], exc: BaseException) -> None:
        """Stop reading and send the error downstream after the frames already finished."""
        self.stop_source.set()
        if self.error is None:
            self.error = exc
        self._put(q_out, _Failure(exc))

    def _put(self, q: queue.Queue[Any], item: Any) -> bool:
        while not self.abort.is_set():
            try:
                q.put(item, timeout=self._POLL)
                return True
            except queue.Full:
                continue
        return False

    def _put_dropping_oldest(self, q: queue.Queue[Any], item: Any) -> None:
        while True:
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                try:
                    q.get_nowait()
                    self.path.summary.drop(f"drop-oldest: live source ahead of '{self.path.stages[0].name}' (queue of {self.queue_size} full)")
                except queue.Empty:
                    pass

    def _get(self, q: queue.Queue[Any]) -> Any:
        while not self.abort.is_set():
            try:
                return q.get(timeout=self._POLL)
            except queue.Empty:
                continue
        return None

    def _source_worker(self) -> None:
        path = self.path
        q = self.queues[0]
        try:
            while not (self.stop_source.is_set() or self.abort.is_set()):
                state = path.read()
                if state is None:
                    break
                if self.drop_oldest:
                    self._put_dropping_oldest(q, state)
                elif not self._put(q, state):
                    break
        except BaseException as exc:
            self._fail(q, exc)
        finally:
            path.close_source()
            self._put(q, _END)

    def _stage_worker(self, stage: Stage, q_in: queue.Queue[Any], q_out: queue.Queue[Any]) -> None:
        failed = False  # once a failure passed through, later frames are not worked on
        while True:
            item = self._get(q_in)
            if item is None:
                return
            if item is _END:
                self._put(q_out, _END)
                return
            if isinstance(item, _Failure):
                # pass the failure on; frames behind it will not be written (counted at shutdown)
                failed = True
                if not self._put(q_out, item):
                    return
                continue
            if failed:
                continue
            try:
                stage.run(item)
            except FrameDropped:
                continue
            except BaseException as exc:
                if isinstance(exc, StageError):
                    self.path.summary.drop("run failed on this frame")
                self._fail(q_out, exc)
                failed = True
                continue
            if not self._put(q_out, item):
                return

    def next(self) -> FrameState | None:
        # A stop signal must not strike between taking the frame off the queue and handing it
        # over: it waits (at most one poll) and is raised by the sinks' section after this frame.
        q = self.queues[-1]
        item: Any = None
        while not self.abort.is_set():
            with whole(carry=True):
                try:
                    item = q.get(timeout=self._POLL)
                except queue.Empty:
                    item = None
            if item is not None:
                break
            raise_pending()  # between two polls: nothing taken, nothing to lose
        if not isinstance(item, FrameState):
            raise_pending()
        if isinstance(item, _Failure):
            self.abort.set()
            raise item.error
        if item is None or item is _END:
            return None
        return item

    def interrupt(self) -> None:
        self.stop_source.set()

    def shutdown(self, reason: str, wait: float = 60.0) -> None:
        """Stop every thread; wait up to ``wait`` seconds in all for a plugin call to return
        (threads still in one are left behind, daemonic, and named in the notes)."""
        self.abort.set()
        deadline = time.monotonic() + wait
        for t in self.threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self.threads if t.is_alive()]
        summary = self.path.summary
        if stuck:
            summary.notes.append(f"threads still running a plugin call at shutdown: {', '.join(stuck)}")
        lost = summary.frames_read - summary.frames_out - summary.frames_dropped
        if lost > 0:
            summary.drop(reason, lost)
