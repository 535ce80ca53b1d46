"""The ``cartpole-state`` interpreter: CartPole's physical state ``[x, x_dot, theta, theta_dot]``
as ``scene.features``, from the cart and pole that ``cartpole-recognizer`` names — position and
angle from their boxes and the pole's axis, velocities as frame differences over the frames'
timestamps (reset to zero when the picture jumps, i.e. a new episode) — plus situations and facts
in words. It never reads the environment's state."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field

from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Frame, Scene, SceneObject

__all__ = ["WORLD_HALF_WIDTH", "CartPoleStateEstimator"]

#: CartPole-v1 draws x in [-2.4, 2.4] across the full frame width.
WORLD_HALF_WIDTH = 2.4


class CartPoleStateEstimator(Plugin):
    """Estimates CartPole's state (x, x_dot, theta, theta_dot) from the recognized cart and pole, frame by frame."""

    drid_name = "cartpole-state"

    class Params(PluginParams):
        world_half_width: float = Field(default=WORLD_HALF_WIDTH, gt=0, description="metres from the frame's centre to its edge")
        dt: float = Field(default=0.02, gt=0, description="seconds between frames when timestamps do not say (CartPole's tau)")
        use_timestamps: bool = Field(default=True, description="time velocities by the frames' timestamps (false: always dt; use it for interleaved env copies, whose timestamps are the shared step clock)")
        jump_x: float = Field(default=0.25, gt=0, description="a position change larger than this (m) between frames starts a new episode")
        jump_theta: float = Field(default=0.1, gt=0, description="an angle change larger than this (rad) between frames starts a new episode")

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._previous: dict[Any, tuple[float, float, float]] = {}

    @staticmethod
    def _best(objects: list[SceneObject], label: str) -> SceneObject | None:
        candidates = [o for o in objects if o.label == label]
        return max(candidates, key=lambda o: o.score * o.box.area) if candidates else None

    @hookimpl
    def drid_interpret(self, frame: Frame, objects: list[SceneObject]) -> Scene:
        """The state as ``scene.features``, with situations and facts in words (``lost`` when the
        cart or the pole is missing)."""
        cart, pole = self._best(objects, "cart"), self._best(objects, "pole")
        if cart is None or pole is None:
            missing = " and ".join(n for n, o in (("cart", cart), ("pole", pole)) if o is None)
            return Scene(situations=("lost",), facts=(f"no {missing} recognized in this frame",))
        scale = frame.width / (2 * self.params.world_half_width)
        x = (cart.box.center[0] - frame.width / 2) / scale
        (x0, y0), (x1, y1) = pole.polyline if pole.polyline else ((pole.box.center[0], pole.box.y2), (pole.box.center[0], pole.box.y1))
        if y1 > y0:  # (x1, y1) is the upper end
            x0, y0, x1, y1 = x1, y1, x0, y0
        theta = math.atan2(x1 - x0, y0 - y1)
        key = frame.meta.get("env_index", 0)
        previous = self._previous.get(key)
        x_dot = theta_dot = 0.0
        fresh = True
        if previous is not None:
            t0, px, pt = previous
            dt = frame.timestamp - t0 if self.params.use_timestamps and frame.timestamp > t0 else self.params.dt
            if abs(x - px) <= self.params.jump_x and abs(theta - pt) <= self.params.jump_theta:
                x_dot, theta_dot = (x - px) / dt, (theta - pt) / dt
                fresh = False
        self._previous[key] = (frame.timestamp, x, theta)
        situations = ["balanced" if abs(theta) < 0.05 else ("pole-leaning-right" if theta > 0 else "pole-leaning-left")]
        if abs(x) > 1.8:
            situations.append("cart-near-edge")
        if fresh:
            situations.append("new-episode")
        side = "right" if theta > 0 else "left"
        facts = (
            f"cart at x={x:+.3f} m moving {x_dot:+.2f} m/s",
            f"pole leans {side} by {abs(math.degrees(theta)):.1f} deg, turning at {math.degrees(theta_dot):+.0f} deg/s",
        )
        return Scene(situations=tuple(situations), facts=facts, features=np.array([x, x_dot, theta, theta_dot]))
