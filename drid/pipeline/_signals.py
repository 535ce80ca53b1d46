"""Stop signals of a run. SIGINT (Ctrl-C) and SIGTERM (what ``timeout``, docker, systemd and
Kubernetes send) both raise :class:`Interrupted`, a ``KeyboardInterrupt``, so every path that
drains a run on Ctrl-C drains it on SIGTERM too. While the sinks write one frame (and while
``drid_stop`` closes them) a signal waits: a frame reaches every sink or none, and a video is
closed whole.

Python runs signal handlers on the main thread only, so all of this concerns the main thread:
sinks run there in both schedulers; elsewhere (a Ray worker, a thread of the caller's) the
context managers are no-ops and the default behaviour stays."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Interrupted", "raise_pending", "signal_name", "stop_signals", "whole"]


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived (``signum``): SIGINT or SIGTERM."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal_name(signum))


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _State:
    depth = 0  # nesting of ``whole()`` sections on the main thread
    pending: int | None = None  # a signal that arrived inside one


_state = _State()


def _handler(signum: int, frame: Any) -> None:
    if _state.depth:
        if _state.pending is None:
            _state.pending = signum
        return
    raise Interrupted(signum)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stop_signals(*, sigterm: bool) -> Iterator[None]:
    """Route SIGINT (when it has Python's default handler) and, with ``sigterm``, SIGTERM (when
    it has the system default) through :class:`Interrupted` for the duration; restore after.
    Handlers someone else installed are left alone."""
    if not _on_main_thread():
        yield
        return
    installed: list[tuple[int, Any]] = []
    wanted: list[tuple[int, Any]] = [(signal.SIGINT, signal.default_int_handler)]
    if sigterm:
        wanted.append((signal.SIGTERM, signal.SIG_DFL))
    for signum, default in wanted:
        current = signal.getsignal(signum)
        if current is default:
            signal.signal(signum, _handler)
            installed.append((signum, current))
    try:
        yield
    finally:
        # A generator holding this may be closed late, from another thread: restore only where
        # Python allows it (our handler left in place acts as the default one outside a section).
        if _on_main_thread():
            for signum, previous in installed:
                if signal.getsignal(signum) is _handler:
                    signal.signal(signum, previous)


@contextmanager
def whole(*, carry: bool = False) -> Iterator[None]:
    """A section that a stop signal does not cut: one that arrives inside is raised when the
    section ends (unless it ends with an error of its own, which then goes on). With ``carry`` it
    stays pending instead, for the next section to raise (or :func:`raise_pending`): taking a
    frame off a queue is such a section, so the frame is not lost between the queue and its
    caller."""
    if not _on_main_thread():
        yield
        return
    _state.depth += 1
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        _state.depth -= 1
        if _state.depth == 0 and _state.pending is not None and not carry:
            signum, _state.pending = _state.pending, None
            if not failed:
                raise Interrupted(signum)


def raise_pending() -> None:
    """Raise a stop signal that a ``whole(carry=True)`` section held back, if any."""
    if _on_main_thread() and _state.depth == 0 and _state.pending is not None:
        signum, _state.pending = _state.pending, None
        raise Interrupted(signum)
