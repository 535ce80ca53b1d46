"""What the page shows, as one JSON document (``GET /api/state``): the run's status and counts,
each stage's and plugin's frames, queue depth and latency, the drops with their reasons, and per
source the latest decision with its rationale, situations, facts, recent events, counts per zone
and line, frames/s over time and the preview frames sent and dropped."""

from __future__ import annotations

import math
import time
from typing import Any

from drid.pipeline.stats import RunSummary
from drid.schemas import Event
from drid.sinks.serve.hub import LiveHub, SourceView

__all__ = ["live_state", "plain"]


def plain(value: Any) -> Any:
    """``value`` as JSON-safe data (event data may hold tuples, numpy scalars, non-finite floats)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return plain(item())
    return str(value)


def _event_text(event: Event) -> str:
    data = event.data
    if event.name == "crossed_line":
        return f"{data.get('label', 'object')} crossed line '{data.get('line')}' {data.get('direction', '')}".rstrip()
    if event.name == "entered_zone":
        return f"{data.get('label', 'object')} entered zone '{data.get('zone')}'"
    if event.name == "exited_zone":
        dwell = data.get("dwell_s")
        return f"{data.get('label', 'object')} left zone '{data.get('zone')}'" + (f" after {dwell:.1f} s" if isinstance(dwell, (int, float)) else "")
    if event.name in ("situation_started", "situation_ended"):
        return f"{str(data.get('situation'))} {'started' if event.name.endswith('started') else 'ended'}"
    shown = ", ".join(f"{k}={plain(v)}" for k, v in data.items() if k not in ("count", "label_count", "because"))
    label = data.get("label")
    return f"{label + ' ' if isinstance(label, str) else ''}{event.name.replace('_', ' ')}" + (f" ({shown})" if shown and not label else "")


def _source_state(hub: LiveHub, view: SourceView, now: float) -> dict[str, Any]:
    record = view.latest
    latest: dict[str, Any] = {}
    if record is not None:
        frame = record.frame
        scene = record.scene
        decision = record.decision
        latest = {
            "index": frame.index,
            "timestamp": frame.timestamp,
            "detections": len(record.detections),
            "decision": None if decision is None else {
                "action": plain(decision.action), "rationale": decision.rationale, "confidence": decision.confidence, "plugin": decision.plugin,
            },
            "situations": list(scene.situations) if scene is not None else [],
            "facts": list(scene.facts) if scene is not None else [],
            "objects": len(scene.objects) if scene is not None else 0,
            "faults": [f"{f.stage}/{f.plugin}: {f.message}" for f in record.faults],
        }
    zones = {name: {"now": view.occupancy.get(name, 0), **counts} for name, counts in dict(view.zones).items()}
    for name, n in dict(view.occupancy).items():
        zones.setdefault(name, {"now": n, "entered": 0, "exited": 0})
    return {
        "id": view.id,
        "name": view.name,
        "frames": view.seq,
        "fps": view.fps(now),
        "latest": latest,
        "events": [{"index": i, "timestamp": t, "name": e.name, "text": _event_text(e)} for i, t, e in reversed(list(view.events))],
        "decisions": [{"index": i, "timestamp": t, "action": a, "rationale": r} for i, t, a, r in reversed(list(view.decisions))],
        "zones": zones,
        "lines": {name: dict(counts) for name, counts in dict(view.lines).items()},
        "fps_history": _rates(list(view.samples)),
        "preview": hub.preview_counts(view),
        "stream": f"/stream/{view.id}.mjpg",
    }


def _rates(samples: list[tuple[float, int]]) -> list[list[float]]:
    """``[t, frames/s]`` between consecutive ``(t, frames written)`` samples."""
    return [[t1, (n1 - n0) / (t1 - t0)] for (t0, n0), (t1, n1) in zip(samples, samples[1:]) if t1 > t0]


def live_state(hub: LiveHub, summary: RunSummary | None, stages: dict[str, list[str]], name: str) -> dict[str, Any]:
    """The page's document for the run ``summary`` (``None`` before the first run starts)."""
    now = time.monotonic()
    snapshot = summary.snapshot(elapsed=hub.elapsed()) if summary is not None else None
    return {
        "pipeline": name,
        "status": hub.status,
        "elapsed_s": hub.elapsed(),
        "plugins": stages,
        "summary": plain(snapshot),
        "sources": [_source_state(hub, view, now) for view in list(hub.order)],
    }
