"""The ``driving-pd`` policy: a hand-written controller on the driver's state of
``driving-state`` (``drid.interpret.driving``) — the baseline PPO is measured against in
``benchmarks/driving.py``, and the check that the state is good enough to drive on.

Steering is a PD law on a point of the road's centre ahead (pure pursuit): steer towards the
centre ``lookahead`` metres ahead, damped by the yaw rate. Speed follows a target that drops in
bends (the road's lateral position ``brake_ahead`` m ahead says how sharp the bend coming is):
gas below it, brake well above it.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from drid.interpret.driving import FEATURES
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Decision, Frame, Scene

__all__ = ["DrivingController", "pd_actions"]

_I = {name: i for i, name in enumerate(FEATURES)}


def pd_actions(features: np.ndarray, gain: float = 0.12, damping: float = 0.1, lookahead: int = 10, top_speed: float = 90.0,
               bend_speed: float = 35.0, brake_ahead: int = 25) -> np.ndarray:
    """``[steer, gas, brake]`` rows for driver-state rows ``features[N, len(FEATURES)]``."""
    f = np.atleast_2d(np.asarray(features, dtype=np.float64))
    target = f[:, _I[f"ahead_{lookahead}"]]
    steer = np.clip(gain * target + damping * f[:, _I["yaw_rate"]], -1.0, 1.0)
    sharp = np.abs(f[:, _I[f"ahead_{brake_ahead}"]]) / float(brake_ahead)  # ~ the tangent of the bend's angle
    wanted = np.where(sharp > 0.35, bend_speed, np.where(sharp > 0.15, 0.5 * (bend_speed + top_speed), top_speed))
    speed = f[:, _I["speed"]]
    gas = np.clip(0.1 * (wanted - speed), 0.0, 0.5) * (np.abs(steer) < 0.8)
    brake = np.clip(0.05 * (speed - wanted - 5.0), 0.0, 0.8)
    return np.stack([steer, gas, brake], axis=1)


class DrivingController(Plugin):
    """A PD steering and speed controller on the driver's state (the baseline for PPO)."""

    drid_name = "driving-pd"

    class Params(PluginParams):
        gain: float = Field(default=0.12, gt=0, description="steering per metre of the road centre's offset at the lookahead point")
        damping: float = Field(default=0.1, ge=0, description="steering per rad/s of yaw rate (against overshooting out of bends)")
        lookahead: int = Field(default=10, description="the lookahead point (m): one of 5, 10, 15, 20, 25, 30")
        top_speed: float = Field(default=90.0, gt=0, description="target speed on straights (m/s); with bend_speed, returns over seeds 10000-10002: 45/22 551 ± 7, 70/30 750 ± 25, 90/35 830 ± 33 (slower ones do not finish the lap in 1000 steps)")
        bend_speed: float = Field(default=35.0, gt=0, description="target speed in sharp bends (m/s)")

    params: Params

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        if f"ahead_{self.params.lookahead}" not in _I:
            raise ValueError(f"lookahead {self.params.lookahead} m is not one of the driver state's points (5, 10, 15, 20, 25, 30)")

    @hookimpl
    def drid_decide(self, frame: Frame, scene: Scene) -> Decision:
        """``[steer, gas, brake]`` from ``scene.features`` (the ``driving-state`` interpreter's)."""
        if scene.features is None or np.size(scene.features) != len(FEATURES):
            raise ValueError("driving-pd needs the driving-state interpreter's scene.features")
        p = self.params
        steer, gas, brake = pd_actions(np.asarray(scene.features), p.gain, p.damping, p.lookahead, p.top_speed, p.bend_speed)[0].tolist()
        what = "brake" if brake > 0 else ("gas" if gas > 0 else "coast")
        side = "right" if steer > 0.05 else ("left" if steer < -0.05 else "straight")
        return Decision(action=[steer, gas, brake], rationale=f"steer {side} {steer:+.2f}, {what}")
