"""The ``driving-pd`` policy: a hand-written controller on the driver's state of
``driving-state`` (``drid.interpret.driving``) — the baseline PPO is measured against in
``benchmarks/driving.py``, and the check that the state is good enough to drive on.

Steering is a PD law on a point of the road's centre ahead (pure pursuit): steer towards the
centre ``lookahead`` metres ahead, damped by the yaw rate. Speed follows a target that drops before
bends (the road centre's lateral position 15..30 m ahead says how sharp the coming bend is):
gas below it (full throttle allowed), brake well above it.

Also here: the training environment of the shipped policy, ``CarRacingDriverState-v0``
(gymnasium id ``drid.sources.driving:CarRacingDriverState-v0``, registered there): CarRacing-v3 whose 96×96
picture is replaced by the driver's state that ``road`` (``drid.detect.road``) →
``driving-state`` (``drid.interpret.driving``) measure in it — the very plugins, called on the
very frame a ``gym`` source with ``pixels: observation`` hands a pipeline, so a policy trained
there acts on what the pipeline computes (``scripts/train_driving_policy.py``); and
:func:`true_driver_state`, the true pose for checking the estimate after the fact.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
from pydantic import Field

from drid.detect.road import RoadDetector
from drid.interpret.driving import FEATURES, DrivingStateInterpreter
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Decision, Frame, Scene, SceneObject

__all__ = ["DriverStateObservation", "DrivingController", "make_driver_state_env", "pd_actions", "true_driver_state"]

_I = {name: i for i, name in enumerate(FEATURES)}


#: Lookahead points (m) whose lateral position, over their distance, says how sharp the bend ahead is.
BEND_POINTS = (15, 20, 25, 30)


def pd_actions(features: np.ndarray, gain: float = 0.12, damping: float = 0.1, lookahead: int = 10, top_speed: float = 120.0,
               bend_speed: float = 40.0, gas_max: float = 1.0) -> np.ndarray:
    """``[steer, gas, brake]`` rows for driver-state rows ``features[N, len(FEATURES)]``.

    The speed target falls linearly from ``top_speed`` to ``bend_speed`` as the sharpest bend
    15..30 m ahead (the road centre's lateral position over its distance, ~ the tangent of the
    bend's angle) goes from 0.1 to 0.4, so the car brakes before bends, not in them."""
    f = np.atleast_2d(np.asarray(features, dtype=np.float64))
    target = f[:, _I[f"ahead_{lookahead}"]]
    steer = np.clip(gain * target + damping * f[:, _I["yaw_rate"]], -1.0, 1.0)
    sharp = np.max(np.stack([np.abs(f[:, _I[f"ahead_{d}"]]) / d for d in BEND_POINTS]), axis=0)
    wanted = np.clip(top_speed - (top_speed - bend_speed) * np.clip((sharp - 0.1) / 0.3, 0.0, 1.0), bend_speed, top_speed)
    speed = f[:, _I["speed"]]
    gas = np.clip(0.1 * (wanted - speed), 0.0, gas_max) * (np.abs(steer) < 0.8)
    brake = np.clip(0.05 * (speed - wanted - 5.0), 0.0, 0.8)
    return np.stack([steer, gas, brake], axis=1)


class DrivingController(Plugin):
    """A PD steering and speed controller on the driver's state (the baseline for PPO)."""

    drid_name = "driving-pd"

    class Params(PluginParams):
        gain: float = Field(default=0.12, gt=0, description="steering per metre of the road centre's offset at the lookahead point")
        damping: float = Field(default=0.1, ge=0, description="steering per rad/s of yaw rate (against overshooting out of bends)")
        lookahead: int = Field(default=10, description="the lookahead point (m): one of 5, 10, 15, 20, 25, 30")
        top_speed: float = Field(default=120.0, gt=0, description="target speed on straights (m/s); slower cars do not finish the lap in 1000 steps (docs/driving.md: 90 m/s with gas at most 0.5 reached 289 of seed 10000's 312 tiles)")
        bend_speed: float = Field(default=40.0, gt=0, description="target speed in the sharpest bends (m/s)")
        gas_max: float = Field(default=1.0, gt=0, le=1, description="the most gas given (1: full throttle to top_speed)")

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
        steer, gas, brake = pd_actions(np.asarray(scene.features), p.gain, p.damping, p.lookahead, p.top_speed, p.bend_speed, p.gas_max)[0].tolist()
        what = "brake" if brake > 0 else ("gas" if gas > 0 else "coast")
        side = "right" if steer > 0.05 else ("left" if steer < -0.05 else "straight")
        return Decision(action=[steer, gas, brake], rationale=f"steer {side} {steer:+.2f}, {what}")


def true_driver_state(env: gymnasium.Env) -> dict[str, float]:
    """The car's true lateral offset (m, positive right of the centre), heading error (rad,
    positive pointing right of the road's direction) and speed (m/s), read from CarRacing's
    physics (``env.unwrapped.car`` and the track's centre points): the check, after the fact,
    of what ``driving-state`` estimates from pixels. The pipeline never reads it."""
    u: Any = env.unwrapped
    hull = u.car.hull
    p = np.array([hull.position[0], hull.position[1]])
    xy = np.array([[t[2], t[3]] for t in u.track])
    i = int(np.argmin(np.linalg.norm(xy - p, axis=1)))
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for j in (i - 1, i):  # the two segments around the nearest centre point
        a, b = xy[j % len(xy)], xy[(j + 1) % len(xy)]
        seg = b - a
        t = float(np.clip(np.dot(p - a, seg) / max(float(np.dot(seg, seg)), 1e-12), 0.0, 1.0))
        q = a + t * seg
        dist = float(np.linalg.norm(p - q))
        if best is None or dist < best[0]:
            best = (dist, q, seg / max(float(np.linalg.norm(seg)), 1e-12))
    assert best is not None
    _, q, tangent = best
    right = np.array([tangent[1], -tangent[0]])
    road = math.atan2(tangent[1], tangent[0])
    car = math.atan2(math.cos(hull.angle), -math.sin(hull.angle))  # the hull's forward axis is its local +y
    heading = (road - car + math.pi) % (2 * math.pi) - math.pi
    return {"offset": float(np.dot(p - q, right)), "heading": heading,
            "speed": float(np.hypot(hull.linearVelocity[0], hull.linearVelocity[1]))}


class DriverStateObservation(gymnasium.ObservationWrapper):
    """CarRacing's picture replaced by the driver's state (:data:`drid.interpret.driving.FEATURES`)."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.detector = RoadDetector()
        self.interpreter = DrivingStateInterpreter()
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, shape=(len(FEATURES),), dtype=np.float32)
        self._step = 0
        self.last_scene: Any = None

    def reset(self, **kwargs: Any) -> Any:
        self._step = 0
        return super().reset(**kwargs)

    def step(self, action: Any) -> Any:
        self._step += 1
        return super().step(action)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        frame = Frame(index=self._step, timestamp=self._step / 50.0, source="CarRacing-v3",
                      image=np.ascontiguousarray(observation[:, :, ::-1]), meta={"step": self._step})
        detections = self.detector.drid_detect(frame)
        objects = [SceneObject.from_detection(i, d) for i, d in enumerate(detections)]
        self.last_scene = self.interpreter.drid_interpret(frame, objects)
        return np.asarray(self.last_scene.features, dtype=np.float32)


def make_driver_state_env(**kwargs: Any) -> gymnasium.Env:
    """``CarRacing-v3`` wrapped in :class:`DriverStateObservation` (gymnasium entry point)."""
    return DriverStateObservation(gymnasium.make("CarRacing-v3", **kwargs))

