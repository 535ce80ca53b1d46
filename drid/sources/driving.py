"""CarRacing as the driving pipeline sees it, for training: the ``DriverStateObservation`` wrapper
(gymnasium id ``drid.sources.driving:CarRacingDriverState-v0``) replaces CarRacing-v3's 96×96
picture by the driver's state that ``road`` (``drid.detect.road``) → ``driving-state``
(``drid.interpret.driving``) measure in it — the very plugins, called on the very frame a
``gym`` source with ``pixels: observation`` hands a pipeline, so a policy trained here acts on
what the pipeline computes. That is the environment ``scripts/train_driving_policy.py`` trains
the shipped ``drid/decide/models/carracing-ppo.npz`` on.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np

from drid.detect.road import RoadDetector
from drid.interpret.driving import FEATURES, DrivingStateInterpreter
from drid.schemas import Frame, SceneObject

__all__ = ["DriverStateObservation", "make_driver_state_env", "true_driver_state"]


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


if "CarRacingDriverState-v0" not in gymnasium.registry:
    gymnasium.register(id="CarRacingDriverState-v0", entry_point="drid.sources.driving:make_driver_state_env", max_episode_steps=None)
