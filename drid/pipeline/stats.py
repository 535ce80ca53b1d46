"""Counters and latency histograms of a run, and the summary table printed at its end."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LatencyHistogram", "PluginStats", "RunSummary", "StageStats"]

_BUCKETS_PER_OCTAVE = 4
_FLOOR_S = 1e-7  # 0.1 µs: below is one bucket
_N_BUCKETS = 30 * _BUCKETS_PER_OCTAVE  # up to ~100 s


class LatencyHistogram:
    """Log-bucketed latencies (four buckets per octave, linear within it, from 0.1 µs to ~100 s;
    a bucket is at most 25 % wide),
    with exact count, sum, min and max. Cheap enough for every call of every plugin."""

    __slots__ = ("buckets", "count", "total", "minimum", "maximum")

    def __init__(self) -> None:
        self.buckets = [0] * (_N_BUCKETS + 1)
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = 0.0

    def record(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        if seconds < self.minimum:
            self.minimum = seconds
        if seconds > self.maximum:
            self.maximum = seconds
        if seconds <= _FLOOR_S:
            self.buckets[0] += 1
            return
        # frexp instead of log2: the octave is the exponent, the quarter comes from the mantissa
        # (in [0.5, 1)); the bucket's upper edge is then within one quarter-octave of the value.
        mantissa, exponent = math.frexp(seconds / _FLOOR_S)
        bucket = 1 + (exponent - 1) * _BUCKETS_PER_OCTAVE + int((mantissa - 0.5) * 2 * _BUCKETS_PER_OCTAVE)
        self.buckets[bucket if bucket < _N_BUCKETS else _N_BUCKETS] += 1

    @staticmethod
    def _upper_edge(bucket: int) -> float:
        if bucket == 0:
            return _FLOOR_S
        octave, quarter = divmod(bucket - 1, _BUCKETS_PER_OCTAVE)
        return _FLOOR_S * 2**octave * (1 + (quarter + 1) / _BUCKETS_PER_OCTAVE)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0–100) in seconds: the upper edge of the bucket holding it,
        capped by the exact maximum. 0 when nothing was recorded."""
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(self.count * q / 100))
        seen = 0
        for i, n in enumerate(self.buckets):
            seen += n
            if seen >= rank:
                return min(self._upper_edge(i), self.maximum)
        return self.maximum

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper edge in seconds, calls at or below it)`` at every octave edge (0.1 µs · 2^k)
        up to the one holding the maximum: the buckets of a Prometheus histogram. Safe to call
        from another thread while calls are recorded (the buckets are copied first; their total
        may then be one call ahead of ``count``)."""
        buckets = list(self.buckets)
        out: list[tuple[float, int]] = []
        seen = 0
        for i, n in enumerate(buckets):
            seen += n
            if i % _BUCKETS_PER_OCTAVE == 0 and i:  # bucket 4k closes octave k
                out.append((_FLOOR_S * 2 ** (i // _BUCKETS_PER_OCTAVE), seen))
                if seen == sum(buckets):
                    break
        return out

    def as_dict(self) -> dict[str, float]:
        """Milliseconds: count, mean, p50, p95, p99, max."""
        return {
            "count": self.count,
            "mean_ms": self.mean * 1e3,
            "p50_ms": self.percentile(50) * 1e3,
            "p95_ms": self.percentile(95) * 1e3,
            "p99_ms": self.percentile(99) * 1e3,
            "max_ms": self.maximum * 1e3,
        }


@dataclass
class PluginStats:
    """One plugin's share of a stage: calls, failures, items returned, latency."""

    name: str
    calls: int = 0
    failures: int = 0
    items: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "calls": self.calls, "failures": self.failures, "items": self.items, "latency": self.latency.as_dict()}


@dataclass
class StageStats:
    """A stage's frame counts and latency, with one ``PluginStats`` per plugin in config order.

    ``frames_in == frames_out + dropped + failed`` once the run is over; ``failed`` counts frames a
    ``fail``-policy error stopped, ``dropped`` those removed under ``skip`` or drop-oldest."""

    name: str
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    failed: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    plugins: dict[str, PluginStats] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "dropped": self.dropped,
            "failed": self.failed,
            "latency": self.latency.as_dict(),
            "plugins": {k: v.as_dict() for k, v in self.plugins.items()},
        }


@dataclass
class RunSummary:
    """What a run did, live while it runs and final after ``drid_stop``.

    ``frames_read`` counts frames the source yielded; each ends either in ``frames_out`` (given to
    the sinks) or in ``drops`` with its reason, so ``frames_read == frames_out + sum(drops)``.
    ``source_skips`` counts inputs the source itself could not decode (never yielded).

    A frame counts as written when every sink took it. Sinks run in config order, so when a
    later sink fails (or skips) a frame, the earlier ones have it already: :meth:`sink_counts`
    says, per sink, how many frames it wrote and how many it failed on. ``signal`` names the
    stop signal (``SIGINT``, ``SIGTERM``) of an interrupted run."""

    name: str = "pipeline"
    mode: str = "sequential"
    frames_read: int = 0
    frames_out: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    source_skips: Counter[str] = field(default_factory=Counter)
    #: What the engine corrected at a stage boundary, with the count (boxes clipped to the frame).
    corrections: Counter[str] = field(default_factory=Counter)
    stages: dict[str, StageStats] = field(default_factory=dict)
    wall_seconds: float = 0.0
    interrupted: bool = False
    signal: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def drop(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.drops[reason] += n

    def correct(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.corrections[what] += n

    def skip_input(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.source_skips[reason] += n

    @property
    def frames_dropped(self) -> int:
        return sum(self.drops.values())

    @property
    def balanced(self) -> bool:
        """Every frame read is accounted for (written or dropped with a reason)."""
        return self.frames_read == self.frames_out + self.frames_dropped

    def sink_counts(self) -> dict[str, dict[str, int]]:
        """Per sink, in config order: frames it ``written``, frames it ``failed`` on."""
        sinks = self.stages.get("sink")
        if sinks is None:
            return {}
        return {name: {"written": p.calls - p.failures, "failed": p.failures} for name, p in sinks.plugins.items()}

    @property
    def fps(self) -> float:
        return self.frames_out / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return self._as_dict(self.stages, dict(self.drops), dict(self.source_skips), dict(self.corrections), list(self.notes))

    def snapshot(self, elapsed: float | None = None) -> dict[str, Any]:
        """:meth:`as_dict` read while the run goes on, from any thread (a live view, a metrics
        scrape): the counters kept by reason are copied under the summary's lock; every other
        count is one integer, read as it is, so a snapshot may have a frame in one stage that the
        next has not reached yet. ``elapsed`` (the seconds since the run started) stands in for
        ``wall_seconds`` and ``fps`` until the run has ended.

        Each stage's entry also says ``waiting``: the frames the place before it has handed on
        and it has not taken yet, its queue depth in concurrent mode (always 0 in sequential)."""
        with self._lock:
            drops, skips, corrections = dict(self.drops), dict(self.source_skips), dict(self.corrections)
        stages = dict(self.stages)
        data = self._as_dict(stages, drops, skips, corrections, list(self.notes))
        if elapsed is not None and not self.wall_seconds:
            data["wall_seconds"] = elapsed
            data["fps"] = self.frames_out / elapsed if elapsed > 0 else 0.0
        # Frames the drop-oldest policy removed from the first queue left the source but never
        # reached the first stage (the reason is spelled in pipeline/_schedulers.py).
        shed = sum(n for reason, n in drops.items() if reason.startswith("drop-oldest:"))
        previous: dict[str, Any] | None = None
        for name, entry in data["stages"].items():
            if name == "act":  # the closed loop's own row: no queue before it
                entry["waiting"] = 0
                continue
            if previous is None:
                entry["waiting"] = 0
            else:
                entry["waiting"] = max(0, previous["frames_out"] - entry["frames_in"] - (shed if previous["name"] == "source" else 0))
            previous = entry
        return data

    def _as_dict(self, stages: dict[str, StageStats], drops: dict[str, int], skips: dict[str, int], corrections: dict[str, int],
                 notes: list[str]) -> dict[str, Any]:
        """The dictionary of :meth:`as_dict` over the given copies of the summary's collections."""
        counts = {name: {"written": p.calls - p.failures, "failed": p.failures} for name, p in stages["sink"].plugins.items()} if "sink" in stages else {}
        return {
            "name": self.name,
            "mode": self.mode,
            "frames_read": self.frames_read,
            "frames_out": self.frames_out,
            "drops": drops,
            "source_skips": skips,
            "corrections": corrections,
            "wall_seconds": self.wall_seconds,
            "fps": self.fps,
            "interrupted": self.interrupted,
            "signal": self.signal,
            "error": self.error,
            "sinks": counts,
            "notes": notes,
            "stages": {k: v.as_dict() for k, v in stages.items()},
        }

    def table(self) -> str:
        """The end-of-run table: frames and latency per stage and per plugin."""
        head = f"{'stage':<10} {'plugin':<22} {'in':>7} {'out':>7} {'dropped':>7} {'failed':>6} {'mean ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        lines = [head, "-" * len(head)]

        def row(stage: str, plugin: str, fin: Any, fout: Any, dropped: Any, failed: Any, lat: LatencyHistogram) -> str:
            d = lat.as_dict()
            return (
                f"{stage:<10} {plugin:<22} {fin!s:>7} {fout!s:>7} {dropped!s:>7} {failed!s:>6} "
                f"{d['mean_ms']:>8.3f} {d['p50_ms']:>8.3f} {d['p95_ms']:>8.3f} {d['p99_ms']:>8.3f} {d['max_ms']:>8.3f}"
            )

        for st in self.stages.values():
            lines.append(row(st.name, "(stage)", st.frames_in, st.frames_out, st.dropped, st.failed, st.latency))
            for ps in st.plugins.values():
                lines.append(row("", ps.name, ps.calls, ps.calls - ps.failures, "", ps.failures, ps.latency))
        lines.append("-" * len(head))
        status = "interrupted" if self.interrupted else ("failed" if self.error else "done")
        lines.append(
            f"{status}: {self.frames_read} frames read, {self.frames_out} written, {self.frames_dropped} dropped "
            f"in {self.wall_seconds:.2f} s ({self.fps:.1f} frames/s, {self.mode})"
        )
        if self.interrupted and self.signal:
            lines.append(f"  stopped by {self.signal}")
        for reason, n in sorted(self.drops.items()):
            lines.append(f"  dropped {n}: {reason}")
        counts = self.sink_counts()
        if any(c["written"] != self.frames_out or c["failed"] for c in counts.values()):
            per_sink = ", ".join(f"'{name}' {c['written']}" + (f" ({c['failed']} failed)" if c["failed"] else "") for name, c in counts.items())
            lines.append(f"  frames written per sink: {per_sink}")
        for reason, n in sorted(self.source_skips.items()):
            lines.append(f"  source skipped {n}: {reason}")
        for what, n in sorted(self.corrections.items()):
            lines.append(f"  corrected {n}: {what}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)
