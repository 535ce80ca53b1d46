"""``drid demo cartpole [POLICY]``: CartPole-v1 balanced from pixels through all four stages.

The ``gym`` source renders each step (``pixels: true``); ``cartpole-parts`` finds the coloured
blobs, ``cartpole-recognizer`` says which is the cart, the pole and the axle from their shapes,
``cartpole-state`` estimates position, velocity, pole angle and angular velocity from the frames
alone, and ``ppo`` — the policy drid trained (``drid/decide/models/cartpole-ppo.npz``, reproduced by
``scripts/train_cartpole_policy.py``, or POLICY) — decides on that estimate; the action goes back
into the environment.

Outputs under ``OUT/demo-cartpole/``: ``annotated.mp4`` (boxes, estimated state, action),
``records.jsonl``, ``frames/`` (a few annotated PNGs), ``episodes.json`` (the returns, and — as
a check only, read after the fact from the transitions — the error of the estimated pole angle).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_POLICY", "EPISODES", "cartpole_pipeline", "run_cartpole_demo"]

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "decide" / "models" / "cartpole-ppo.npz"
EPISODES = 3
SEED = 2024


def cartpole_pipeline(policy: str | Path = DEFAULT_POLICY, episodes: int = EPISODES, seed: int = SEED,
                      sinks: list[Any] | None = None, max_frames: int | None = None, env_kwargs: dict[str, Any] | None = None) -> Any:
    """The four-stage pixel pipeline (a ``Pipeline``, not yet run)."""
    from drid.pipeline import Pipeline

    return Pipeline(
        name="demo-cartpole",
        source=("gym", {"env": "CartPole-v1", "seed": seed, "episodes": episodes, "pixels": True, "kwargs": env_kwargs or {}}),
        detect=[("cartpole-parts", {})],
        recognize=[("cartpole-recognizer", {})],
        interpret=[("cartpole-state", {})],
        decide=("ppo", {"policy": str(policy), "learn": False, "observation": "features", "action_names": ["push left", "push right"]}),
        sinks=sinks or [],
        max_frames=max_frames,
    )


def angle_errors(records: list[Any]) -> np.ndarray:
    """|estimated - true| pole angle per frame (radians). The true angle is read from the
    transition the source returned, after the fact: the pipeline never sees it."""
    est = np.array([r.scene.features[2] for r in records if r.scene is not None and r.scene.features is not None and r.transition is not None])
    true = np.array([r.transition.observation[2] for r in records if r.scene is not None and r.scene.features is not None and r.transition is not None])
    return np.abs(est - true)


def run_cartpole_demo(path: str | None = None, out: Path = Path("out"), max_frames: int | None = None) -> int:
    from drid.errors import ConfigError
    from drid.pipeline.report import run_pipeline

    policy = Path(path) if path else DEFAULT_POLICY
    if not policy.is_file():
        raise ConfigError(f"policy file not found: '{policy}' (train one with scripts/train_cartpole_policy.py)", path="demo cartpole")
    target = out / "demo-cartpole"
    keep: list[Any] = []

    class Keep:
        """Keeps the records for the report at the end."""

        drid_name = "keep"

        from drid.pipeline.hookspecs import hookimpl as _hookimpl

        @_hookimpl
        def drid_write(self, record: Any) -> None:
            keep.append(record.model_copy(update={"frame": record.frame.model_copy(update={"image": None})}))

    pipe = cartpole_pipeline(policy, sinks=[
        ("annotated-video", {"path": str(target / "annotated.mp4"), "trail": 0}),
        ("jsonl", {"path": str(target / "records.jsonl")}),
        ("frames", {"path": str(target / "frames"), "every": 100}),
        Keep(),
    ], max_frames=max_frames)
    status = run_pipeline(pipe, summary_json=str(target / "summary.json"))
    source = pipe.source.instance
    returns = [e["return"] for e in source.episodes]
    errors = angle_errors(keep)
    report: dict[str, Any] = {
        "policy": str(policy),
        "episodes": len(returns),
        "returns": returns,
        "mean_return": float(np.mean(returns)) if returns else None,
        "frames": len(keep),
        "pole_angle_error_deg": {
            "mean": round(math.degrees(float(errors.mean())), 3) if errors.size else None,
            "p99": round(math.degrees(float(np.percentile(errors, 99))), 3) if errors.size else None,
            "max": round(math.degrees(float(errors.max())), 3) if errors.size else None,
        },
    }
    target.mkdir(parents=True, exist_ok=True)
    (target / "episodes.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    shown = ", ".join(f"{r:.0f}" for r in returns) or "none finished"
    print(f"CartPole-v1 from pixels: episode returns {shown} (500 is the maximum)")
    if errors.size:
        print(f"estimated pole angle vs the true one (checked afterwards): mean error {report['pole_angle_error_deg']['mean']:.2f} deg, "
              f"max {report['pole_angle_error_deg']['max']:.2f} deg")
    print(f"wrote {target / 'annotated.mp4'}, {target / 'records.jsonl'}, {target / 'episodes.json'}, {target / 'frames'}/")
    return status
