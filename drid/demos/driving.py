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
``episodes.json`` (returns, lengths, the share of frames off the road).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_POLICY", "EPISODES", "driving_pipeline", "run_driving_demo"]

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "decide" / "models" / "carracing-ppo.npz"
EPISODES = 1
SEED = 10_000


def _decide(policy: str | Path) -> tuple[str, dict[str, Any]]:
    if str(policy) == "pd":
        return "driving-pd", {}
    return "ppo", {"policy": str(policy), "learn": False, "observation": "features"}


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
    from drid.errors import ConfigError
    from drid.pipeline.hookspecs import hookimpl
    from drid.pipeline.report import run_pipeline

    import importlib.util

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
            if record.scene is not None:
                off_road.append(1.0 if "off-road" in record.scene.situations else 0.0)

    pipe = driving_pipeline(policy, sinks=[
        ("annotated-video", {"path": str(target / "annotated.mp4"), "trail": 0, "scale": 4.0, "fps": 50}),
        ("jsonl", {"path": str(target / "records.jsonl")}),
        ("frames", {"path": str(target / "frames"), "every": 100}),
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
        "frames": len(off_road),
        "off_road_share": round(float(np.mean(off_road)), 4) if off_road else None,
    }
    target.mkdir(parents=True, exist_ok=True)
    (target / "episodes.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    shown = ", ".join(f"{r:.0f}" for r in returns) or "none finished"
    print(f"CarRacing-v3 from pixels: episode returns {shown} (900 counts as solved)")
    print(f"wrote {target / 'annotated.mp4'}, {target / 'records.jsonl'}, {target / 'episodes.json'}, {target / 'frames'}/")
    return status
