"""The driving-state interpreter against CarRacing's true car pose, read after the fact.

The car is driven by the hand-written controller on the interpreted state itself (so the state
is good enough to drive on), and at every step the estimate from pixels is compared with the
pose the physics knows (``drid.decide.driving.true_driver_state``): lateral offset from the
road's centre, heading error against the road's direction, speed.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("Box2D")

from drid.decide.driving import make_driver_state_env, pd_actions, true_driver_state
from drid.interpret.driving import FEATURES

STEPS = 250
#: The drive the thresholds below were measured on: driving-pd at 45 m/s on straights, 22 in
#: bends (at its faster defaults the heading error's 90th percentile is 6.1 deg, docs/driving.md).
TOP_SPEED, BEND_SPEED = 45.0, 22.0
_I = {name: i for i, name in enumerate(FEATURES)}


@pytest.fixture(scope="module")
def drive() -> dict[str, np.ndarray]:
    env = make_driver_state_env()
    obs, _ = env.reset(seed=10_001)
    est, true, facts = [], [], []
    for step in range(STEPS):
        t = true_driver_state(env)
        est.append(obs)
        true.append((t["offset"], t["heading"], t["speed"]))
        facts.append(env.get_wrapper_attr("last_scene").facts)
        obs, _, terminated, truncated, _ = env.step(pd_actions(obs, top_speed=TOP_SPEED, bend_speed=BEND_SPEED)[0].astype(np.float32))
        assert not (terminated or truncated), f"episode ended at step {step}"
    env.close()
    return {"est": np.array(est), "true": np.array(true), "facts": np.array(facts, dtype=object)}


def test_lateral_offset_agrees_with_the_true_pose(drive: dict[str, np.ndarray]) -> None:
    est, true = drive["est"][50:, _I["offset"]], drive["true"][50:, 0]  # after the first second's zoom
    err = np.abs(est - true)
    assert np.median(err) < 0.15, f"median offset error {np.median(err):.3f} m"
    assert np.percentile(err, 90) < 0.5, f"90th percentile offset error {np.percentile(err, 90):.3f} m"
    assert np.ptp(true) > 1.0  # the car did move across the road: the agreement is not two zeros


def test_heading_error_agrees_with_the_true_pose(drive: dict[str, np.ndarray]) -> None:
    est, true = drive["est"][50:, _I["heading"]], drive["true"][50:, 1]
    err = np.degrees(np.abs(est - true))
    assert np.median(err) < 2.0, f"median heading error {np.median(err):.2f} deg"
    assert np.percentile(err, 90) < 5.0, f"90th percentile heading error {np.percentile(err, 90):.2f} deg"
    assert np.degrees(np.ptp(true)) > 10.0


def test_speed_from_the_dashboard_agrees_with_the_true_speed(drive: dict[str, np.ndarray]) -> None:
    est, true = drive["est"][50:, _I["speed"]], drive["true"][50:, 2]
    assert np.median(np.abs(est - true)) < 3.0
    assert true.max() > 15.0


def test_the_car_stays_on_the_road_and_facts_say_so(drive: dict[str, np.ndarray]) -> None:
    # after the first second, in which the camera zooms in from far and the car is a few pixels
    assert drive["est"][50:, _I["off_road"]].max() == 0.0
    facts = [f for frame in drive["facts"] for f in frame]
    assert any(f.startswith("the road bends left in") or f.startswith("the road bends right in") for f in facts)
    assert any(f.startswith("the road runs straight for") for f in facts)
    assert any(f.startswith("speed ") and f.endswith("km/h") for f in facts)


def test_off_road_is_noticed() -> None:
    """Steering hard right at speed leaves the road: the interpreter says so before the truth is far off."""
    env = make_driver_state_env()
    obs, _ = env.reset(seed=10_002)
    flagged = None
    for step in range(200):
        action = np.array([1.0 if step > 60 else 0.0, 0.5, 0.0], np.float32)
        obs, *_ = env.step(action)
        if step > 50 and obs[_I["off_road"]] == 1.0:
            flagged = true_driver_state(env)["offset"]
            break
    env.close()
    assert flagged is not None, "never flagged off the road"
    # the true offset when flagged: the car's outer wheels (its half-width is about 1.2 m) past the road's edge (6.67 m)
    assert abs(flagged) > 4.5
