"""``drid demo driving [POLICY]``: CarRacing-v3 driven from pixels through the four stages.

The ``gym`` source hands each 96×96 frame over as the picture (``pixels: observation``);
``road`` segments the road (a mask on the detection, drawn as a tint), follows its centreline,
finds the car and reads the dashboard; ``driving-state`` turns that into the driver's state
(offset from the centre, heading error, curvature, speed, off-road, the road ahead) with facts
in words; ``ppo`` — the policy drid trained (``drid/decide/models/carracing-ppo.npz``, made by
``scripts/train_driving_policy.py``, or POLICY; ``pd`` drives with the hand-written
``driving-pd`` controller instead) — decides steering, gas and brake; the action goes back into
the environment.

Outputs under ``OUT/demo-driving/``: ``annotated.mp4`` (road overlay, centreline, facts,
decision banner; 4× enlarged), ``records.jsonl``, ``frames/`` (a few annotated PNGs),
``episodes.json`` (returns, lengths, the share of frames found off the road after the first
second's zoom-in).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drid.pipeline.hookspecs import hookimpl

__all__ = ["DEFAULT_POLICY", "EPISODES", "Enlarged", "driving_pipeline", "enlarged", "run_driving_demo"]

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "decide" / "models" / "carracing-ppo.npz"
EPISODES = 1
SEED = 10_000
#: The 96×96 frame is drawn 4× enlarged (384×384) so that facts and banner leave it visible.
ENLARGE = 4


def _decide(policy: str | Path) -> tuple[str, dict[str, Any]]:
    if str(policy) == "pd":
        return "driving-pd", {}
    return "ppo", {"policy": str(policy), "learn": False, "observation": "features"}


def enlarged(record: Any, factor: int = ENLARGE) -> Any:
    """``record`` with its picture enlarged ``factor`` times (pixels kept square and sharp) and
    its detections' boxes and polylines scaled to match: text and lines drawn on the 96×96
    frame itself would cover it."""
    frame = record.frame
    if frame.image is None:
        return record
    image = cv2.resize(frame.image, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    detections = []
    for d in record.detections:
        b = d.box
        box = b.model_copy(update={"x1": b.x1 * factor, "y1": b.y1 * factor, "x2": b.x2 * factor, "y2": b.y2 * factor})
        polyline = None if d.polyline is None else tuple((x * factor, y * factor) for x, y in d.polyline)
        detections.append(d.model_copy(update={"box": box, "polyline": polyline}))
    return record.model_copy(update={"frame": frame.model_copy(update={"image": image}), "detections": detections})


class Enlarged:
    """Hands the drawing sinks it holds each record :func:`enlarged`."""

    drid_name = "enlarged"

    def __init__(self, sinks: list[Any]) -> None:
        self.sinks = sinks

    @hookimpl
    def drid_start(self, context: Any) -> None:
        for sink in self.sinks:
            if hasattr(sink, "drid_start"):
                sink.drid_start(context)

    @hookimpl
    def drid_write(self, record: Any) -> None:
        big = enlarged(record)
        for sink in self.sinks:
            sink.drid_write(big)

    @hookimpl
    def drid_stop(self, summary: Any) -> None:
        for sink in self.sinks:
            if hasattr(sink, "drid_stop"):
                sink.drid_stop(summary)


def driving_pipeline(policy: str | Path = DEFAULT_POLICY, episodes: int = EPISODES, seed: int = SEED,
                     sinks: list[Any] | None = None, max_frames: int | None = None) -> Any:
    """The four-stage pixel pipeline (a ``Pipeline``, not yet run)."""
    from drid.pipeline import Pipeline

    return Pipeline(
        name="demo-driving",
        source=("gym", {"env": "CarRacing-v3", "seed": seed, "episodes": episodes, "pixels": "observation"}),
        detect=[("road", {})],
        interpret=[("driving-state", {})],
        decide=_decide(policy),
        sinks=sinks or [],
        max_frames=max_frames,
    )


def run_driving_demo(path: str | None = None, out: Path = Path("out"), max_frames: int | None = None) -> int:
    import importlib.util

    from drid.errors import ConfigError
    from drid.pipeline.report import run_pipeline

    if importlib.util.find_spec("Box2D") is None:
        raise ConfigError("CarRacing-v3 needs the box2d extra: pip install 'drid[box2d]'", path="demo driving")
    policy: str | Path = path if path == "pd" else (Path(path) if path else DEFAULT_POLICY)
    if policy != "pd" and not Path(policy).is_file():
        raise ConfigError(f"policy file not found: '{policy}' (train one with scripts/train_driving_policy.py, or give 'pd')",
                          path="demo driving")
    target = out / "demo-driving"
    off_road: list[float] = []

    class Keep:
        """Counts the frames the interpreter found off the road."""

        drid_name = "keep"

        @hookimpl
        def drid_write(self, record: Any) -> None:
            step = record.frame.meta.get("step")
            # the first second is the camera's zoom-in, where the car is a few pixels and off-road flickers
            if record.scene is not None and isinstance(step, int) and step >= 50:
                off_road.append(1.0 if "off-road" in record.scene.situations else 0.0)

    from drid.sinks.annotated import AnnotatedVideoSink, FramesSink

    pipe = driving_pipeline(policy, sinks=[
        Enlarged([AnnotatedVideoSink(path=str(target / "annotated.mp4"), trail=0, fps=50),
                  FramesSink(path=str(target / "frames"), every=100, trail=0)]),
        ("jsonl", {"path": str(target / "records.jsonl")}),
        Keep(),
    ], max_frames=max_frames)
    status = run_pipeline(pipe, summary_json=str(target / "summary.json"))
    source = pipe.source.instance
    returns = [e["return"] for e in source.episodes]
    report: dict[str, Any] = {
        "policy": str(policy),
        "episodes": len(returns),
        "returns": returns,
        "lengths": [e["length"] for e in source.episodes],
        "mean_return": float(np.mean(returns)) if returns else None,
        "frames_after_zoom": len(off_road),
        "off_road_share_after_zoom": round(float(np.mean(off_road)), 4) if off_road else None,
    }
    target.mkdir(parents=True, exist_ok=True)
    (target / "episodes.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    shown = ", ".join(f"{r:.0f}" for r in returns) or "none finished"
    print(f"CarRacing-v3 from pixels: episode returns {shown} (900 counts as solved)")
    print(f"wrote {target / 'annotated.mp4'}, {target / 'records.jsonl'}, {target / 'episodes.json'}, {target / 'frames'}/")
    return status
