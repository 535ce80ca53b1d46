"""Policies deciding on the driver's state that road → driving-state computes from CarRacing's
pixels, in a pipeline with the gym source: the hand-written controller and the shipped PPO
policy both drive, and collect far more of the track than random actions on the same seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import cli

pytest.importorskip("Box2D")

STEPS = 300
SEED = 10_000
SHIPPED = Path(__file__).resolve().parents[2] / "drid" / "decide" / "models" / "carracing-ppo.npz"
NOTES: list[str] = []  # the last run's summary notes


def _drive(decide: tuple[str, dict[str, Any]]) -> tuple[float, int]:
    """Return over the first STEPS steps and the frames the interpreter found off the road."""
    from drid.pipeline import Pipeline

    off_road = []

    class Count:
        drid_name = "count"

        from drid.pipeline.hookspecs import hookimpl as _hookimpl

        @_hookimpl
        def drid_write(self, record: Any) -> None:
            if record.scene is not None and record.frame.index >= 50:
                off_road.append("off-road" in record.scene.situations)
            if record.transition is not None:
                rewards.append(record.transition.reward)

    rewards: list[float] = []
    pipe = Pipeline(name="t", source=("gym", {"env": "CarRacing-v3", "seed": SEED, "steps": STEPS, "episodes": None, "pixels": "observation"}),
                    detect=[("road", {})], interpret=[("driving-state", {})], decide=decide, sinks=[Count()])
    NOTES[:] = pipe.run().notes
    return sum(rewards), sum(off_road)


@pytest.fixture(scope="module")
def random_return() -> float:
    return _drive(("random", {"env": "CarRacing-v3"}))[0]


def test_the_controller_drives_on_the_state(random_return: float) -> None:
    ret, off = _drive(("driving-pd", {}))
    assert off == 0
    # 300 steps cost 30 points; each of the lap's ~300 tiles is worth about 3.3
    assert ret > 150 and ret > random_return + 150


def test_the_shipped_ppo_policy_drives(random_return: float) -> None:
    ret, off = _drive(("ppo", {"policy": str(SHIPPED), "learn": False, "observation": "features"}))
    assert off <= 10
    assert ret > 100 and ret > random_return + 100
    # the shipped policy learnt by imitating driving-pd (DAgger), and the run says so, not "trained on 0 steps"
    assert any("ppo: acted without learning (policy trained by imitation on 24000 environment steps, no reward)" in n for n in NOTES), NOTES


def test_eval_says_the_shipped_policy_learnt_by_imitation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "eval", "policy", str(SHIPPED), "--episodes", "1")
    assert code == 0, err
    assert "trained by imitation on 24,000 environment steps (no reward)" in out, out
