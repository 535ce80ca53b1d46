"""CartPole as the pixel pipeline sees it, for training: the ``FramesObservation`` wrapper
(gymnasium id ``drid.sources.cartpole:CartPoleFrames-v1``) gives a policy the same kind of
observation that ``cartpole-parts`` → ``cartpole-recognizer`` → ``cartpole-state`` estimate from
rendered frames: measured position and angle with those plugins' pixel measurement error, and
frame-difference velocities. That is the environment the shipped
``drid/decide/models/cartpole-ppo.npz`` was trained on (``scripts/train_cartpole_policy.py``).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

__all__ = ["ANGLE_NOISE", "POSITION_NOISE", "FramesObservation", "make_frames_env"]

#: Measurement error of the CartPole pixel plugins on rendered frames (standard deviations, cart
#: inside the frame), measured by ``tests/decide/test_rl_cartpole_pixels.py``; the wrapper adds
#: this noise.
POSITION_NOISE = 0.0025
ANGLE_NOISE = 0.0036


class FramesObservation(gymnasium.ObservationWrapper):
    """CartPole as the pixel pipeline sees it: measured position and angle (with the detector's
    error) and velocities from frame differences, zero on the first frame of an episode."""

    def __init__(self, env: gymnasium.Env, position_noise: float = POSITION_NOISE, angle_noise: float = ANGLE_NOISE, seed: int | None = None) -> None:
        super().__init__(env)
        self.position_noise = position_noise
        self.angle_noise = angle_noise
        self.tau = float(getattr(env.unwrapped, "tau", 0.02))
        self._rng = np.random.default_rng(seed)
        self._previous: tuple[float, float] | None = None

    def reset(self, **kwargs: Any) -> Any:
        self._previous = None
        if kwargs.get("seed") is not None:
            self._rng = np.random.default_rng(kwargs["seed"] + 7919)
        return super().reset(**kwargs)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        x = float(observation[0]) + self._rng.normal(0.0, self.position_noise)
        theta = float(observation[2]) + self._rng.normal(0.0, self.angle_noise)
        if self._previous is None:
            x_dot = theta_dot = 0.0
        else:
            x_dot, theta_dot = (x - self._previous[0]) / self.tau, (theta - self._previous[1]) / self.tau
        self._previous = (x, theta)
        return np.array([x, x_dot, theta, theta_dot], dtype=np.float32)


def make_frames_env(**kwargs: Any) -> gymnasium.Env:
    """``CartPole-v1`` wrapped in :class:`FramesObservation` (gymnasium entry point)."""
    noise = {k: kwargs.pop(k) for k in ("position_noise", "angle_noise") if k in kwargs}
    return FramesObservation(gymnasium.make("CartPole-v1", **kwargs), **noise)


if "CartPoleFrames-v1" not in gymnasium.registry:
    gymnasium.register(id="CartPoleFrames-v1", entry_point="drid.sources.cartpole:make_frames_env")
