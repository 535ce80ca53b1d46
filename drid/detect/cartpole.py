"""CartPole from pixels, one plugin per stage, none of which reads the environment's state.

* ``cartpole-parts`` (detect): colour segmentation of the rendered frame into blobs — dark
  (the cart; the one-pixel track line is removed by a vertical opening), ochre (the pole) and
  violet (the axle) — with sub-pixel measurements in ``meta``: the cart's centre from the
  anti-aliased profile of its lower rows, the pole's axis from the intensity-weighted second
  moments of its pixels (also given as the detection's ``polyline``).
* ``cartpole-recognizer`` (recognize): says which blob is which from its *shape* — the pole is
  long and thin, the cart a filled rectangle about 5:3, the axle small and round.
* ``cartpole-state`` (interpret): the physical state ``[x, x_dot, theta, theta_dot]`` as
  ``scene.features`` — position and angle from the recognized cart and pole, velocities as
  frame differences over the frames' timestamps (reset to zero when the picture jumps, i.e. a
  new episode) — plus situations and facts in words.

The ``FramesObservation`` wrapper (gymnasium id ``drid.detect.cartpole:CartPoleFrames-v1``)
gives a policy, during training, the same kind of observation: measured position and angle
with the pixel measurement error of these plugins, and frame-difference velocities. That is the
environment the shipped ``drid/decide/models/cartpole-ppo.npz`` was trained on
(``scripts/train_cartpole_policy.py``).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import gymnasium
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from drid.pipeline.hookspecs import hookimpl
from drid.schemas import BoundingBox, Detection, Frame, LabelScore, Recognition, Scene, SceneObject

__all__ = ["CartPoleDetector", "CartPoleRecognizer", "CartPoleStateEstimator", "FramesObservation", "WORLD_HALF_WIDTH"]

#: CartPole-v1 draws x in [-2.4, 2.4] across the full frame width.
WORLD_HALF_WIDTH = 2.4
#: Measurement error of these plugins on rendered frames (standard deviations, cart inside the
#: frame), measured by ``tests/test_rl_cartpole_pixels.py``; the training wrapper adds this noise.
POSITION_NOISE = 0.0025
ANGLE_NOISE = 0.0036


def _blobs(mask: np.ndarray, min_area: int) -> list[tuple[int, int, int, int, np.ndarray]]:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[k])
        if area >= min_area:
            out.append((x, y, w, h, labels[y : y + h, x : x + w] == k))
    return out


class CartPoleDetector:
    """Colour blobs of a rendered CartPole frame (dark, ochre, violet) with sub-pixel shape measurements."""

    drid_name = "cartpole-parts"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        min_area: int = Field(default=12, ge=1, description="smallest blob kept, in pixels")

    def __init__(self, min_area: int = 12) -> None:
        self.min_area = min_area
        self._open = np.ones((5, 1), np.uint8)

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        image = frame.image
        if image is None:
            raise ValueError("cartpole-parts needs frame.image (run the gym source with pixels: true)")
        roi = self._region(image)
        if roi is None:
            return []
        oy, ox = roi[0].start, roi[1].start
        return [d.model_copy(update={"box": d.box.model_copy(update={"x1": d.box.x1 + ox, "x2": d.box.x2 + ox, "y1": d.box.y1 + oy, "y2": d.box.y2 + oy}),
                                     "polyline": None if d.polyline is None else tuple((x + ox, y + oy) for x, y in d.polyline),
                                     "meta": {**d.meta, **{k: float(d.meta[k]) + (ox if k.endswith("_x") else oy) for k in ("center_x", "center_y") if k in d.meta}}})
                for d in self._detect(np.ascontiguousarray(image[roi]), image.shape[1], image.shape[0], ox)]

    @staticmethod
    def _region(image: np.ndarray, margin: int = 3) -> tuple[slice, slice] | None:
        """Where anything is drawn (the full-width track line excluded): the rest is white."""
        drawn = cv2.inRange(image, (0, 0, 0), (250, 250, 250))
        per_row = cv2.reduce(drawn, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[:, 0] // 255
        H, W = drawn.shape
        content = (per_row > 0) & (per_row < 0.9 * W)
        rows = np.flatnonzero(content)
        if rows.size == 0:
            return None
        y0, y1 = max(0, rows[0] - margin), min(H, rows[-1] + 1 + margin)
        band = drawn[y0:y1][content[y0:y1]]
        cols = np.flatnonzero(band.any(0))
        x0, x1 = max(0, cols[0] - margin), min(W, cols[-1] + 1 + margin)
        return slice(y0, y1), slice(x0, x1)

    def _detect(self, image: np.ndarray, full_width: int, full_height: int, offset_x: int) -> list[Detection]:
        b = image[:, :, 0].astype(np.int16)
        g = image[:, :, 1].astype(np.int16)
        r = image[:, :, 2].astype(np.int16)
        found: list[Detection] = []
        H, W = image.shape[:2]

        # dark: every channel well below white; the track is a 1-pixel line, gone after opening
        dark = ((r < 200) & (g < 200) & (b < 200) & (np.abs(r - b) < 30)).astype(np.uint8) * 255
        dark = cv2.morphologyEx(dark, cv2.MORPH_OPEN, self._open)
        for x, y, w, h, blob in _blobs(dark, self.min_area):
            # centre from the lower rows' darkness profile: the anti-aliased side edges give
            # sub-pixel accuracy, and the pole never covers these rows
            rows = slice(y + max(0, h - 10), y + h - 1)
            x0, x1 = max(0, x - 2), min(W, x + w + 2)
            profile = ((255.0 - image[rows, x0:x1, 1]) / 255.0).sum(0)
            cx = x0 + float(np.average(np.arange(x1 - x0), weights=profile)) + 0.5 if profile.sum() > 0 else x + w / 2
            inside = 0 < x + offset_x and x + offset_x + w < full_width
            # a sub-pixel box centred on the measured centre (the interpret stage reads box.center)
            box = BoundingBox(x1=cx - w / 2, y1=y, x2=cx + w / 2, y2=y + h) if inside else BoundingBox(x1=x, y1=y, x2=x + w, y2=y + h)
            meta = self._shape(blob, None)
            meta.pop("axis")
            found.append(Detection(box=box.clip(W, H), label="dark", score=1.0, meta=meta | {"center_x": cx}))

        # ochre (202, 152, 101 in RGB): red clearly above blue, green between them
        ochre = ((r - b > 25) & (r >= g) & (g >= b) & (b < 245)).astype(np.uint8) * 255
        for x, y, w, h, blob in _blobs(ochre, self.min_area):
            weight = blob * np.clip((255.0 - image[y : y + h, x : x + w, 0]) / 154.0, 0.0, 1.0)
            meta = self._shape(blob, weight)
            cx, cy, (ux, uy), half = x + meta["cx"], y + meta["cy"], meta.pop("axis"), meta["half_length"]
            found.append(Detection(box=BoundingBox(x1=x, y1=y, x2=x + w, y2=y + h).clip(W, H), label="ochre", score=1.0,
                                   polyline=((cx - ux * half, cy - uy * half), (cx + ux * half, cy + uy * half)),
                                   meta=meta | {"center_x": cx, "center_y": cy}))

        # violet (129, 132, 203 in RGB): blue clearly above red and green
        violet = ((b - r > 40) & (b - g > 40)).astype(np.uint8) * 255
        for x, y, w, h, blob in _blobs(violet, self.min_area):
            meta = self._shape(blob, None)
            meta.pop("axis")
            found.append(Detection(box=BoundingBox(x1=x, y1=y, x2=x + w, y2=y + h).clip(W, H), label="violet", score=1.0,
                                   meta=meta | {"center_x": x + meta["cx"], "center_y": y + meta["cy"]}))
        return found

    @staticmethod
    def _shape(blob: np.ndarray, weight: np.ndarray | None) -> dict[str, Any]:
        """Area, fill ratio, elongation and the major axis (unit vector pointing up) of a blob."""
        m = cv2.moments((weight if weight is not None else blob).astype(np.float32))
        area = float(blob.sum())
        if m["m00"] <= 0:
            return {"area": area, "fill": 0.0, "elongation": 1.0, "cx": 0.0, "cy": 0.0, "axis": (0.0, -1.0), "half_length": 0.0}
        mu20, mu02, mu11 = m["mu20"] / m["m00"], m["mu02"] / m["m00"], m["mu11"] / m["m00"]
        spread = math.sqrt(max(0.0, (mu20 - mu02) ** 2 / 4 + mu11**2))
        major, minor = (mu20 + mu02) / 2 + spread, max((mu20 + mu02) / 2 - spread, 1e-6)
        phi = 0.5 * math.atan2(2 * mu11, mu20 - mu02)
        ux, uy = math.cos(phi), math.sin(phi)
        if uy > 0:  # point up (image y grows downwards)
            ux, uy = -ux, -uy
        h, w = blob.shape
        return {"area": area, "fill": area / float(h * w), "elongation": math.sqrt(major / minor),
                "cx": m["m10"] / m["m00"], "cy": m["m01"] / m["m00"], "axis": (ux, uy), "half_length": math.sqrt(3 * major)}


class CartPoleRecognizer:
    """Says which CartPole blob is the cart, the pole or the axle, from its shape alone."""

    drid_name = "cartpole-recognizer"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        pole_elongation: float = Field(default=4.0, gt=1, description="a blob at least this elongated (major/minor axis) is a pole")

    #: The detector labels it answers for (those of ``cartpole-parts``).
    LABELS = ("dark", "ochre", "violet")

    def __init__(self, pole_elongation: float = 4.0) -> None:
        self.pole_elongation = pole_elongation

    def _scores(self, d: Detection) -> dict[str, float]:
        meta = d.meta
        elong = float(meta.get("elongation", 1.0))  # type: ignore[arg-type]
        fill = float(meta.get("fill", 0.0))  # type: ignore[arg-type]
        area = float(meta.get("area", d.box.area))  # type: ignore[arg-type]
        aspect = d.box.width / max(d.box.height, 1.0)
        pole = min(1.0, max(0.0, (elong - 1.5) / (self.pole_elongation - 1.5)))
        cart = max(0.0, 1.0 - abs(aspect - 5 / 3) / 1.5) * min(1.0, fill / 0.8) * (1.0 if elong < self.pole_elongation else 0.2)
        axle = max(0.0, 1.0 - abs(aspect - 1.0)) * min(1.0, fill / 0.6) * (1.0 if area < 200 else 0.1) * (1.0 if elong < 2 else 0.1)
        if area >= 200:  # a cart is larger than any axle: prefer it among round-ish large blobs
            cart = max(cart, 0.5 * (1.0 - pole)) if elong < self.pole_elongation else cart
        return {"pole": pole, "cart": cart, "axle": axle}

    @hookimpl
    def drid_recognize(self, frame: Frame, detections: list[Detection]) -> list[Recognition]:
        out = []
        for i, d in enumerate(detections):
            if d.label not in self.LABELS:
                continue
            scores = sorted(self._scores(d).items(), key=lambda kv: -kv[1])
            label, score = scores[0]
            if score <= 0.2:
                continue
            out.append(Recognition(detection=i, label=label, score=round(score, 4),
                                   top_k=tuple(LabelScore(label=k, score=round(v, 4)) for k, v in scores)))
        return out


class CartPoleStateEstimator:
    """Estimates CartPole's state (x, x_dot, theta, theta_dot) from the recognized cart and pole, frame by frame."""

    drid_name = "cartpole-state"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        world_half_width: float = Field(default=WORLD_HALF_WIDTH, gt=0, description="metres from the frame's centre to its edge")
        dt: float = Field(default=0.02, gt=0, description="seconds between frames when timestamps do not say (CartPole's tau)")
        use_timestamps: bool = Field(default=True, description="time velocities by the frames' timestamps (false: always dt; use it for interleaved env copies, whose timestamps are the shared step clock)")
        jump_x: float = Field(default=0.25, gt=0, description="a position change larger than this (m) between frames starts a new episode")
        jump_theta: float = Field(default=0.1, gt=0, description="an angle change larger than this (rad) between frames starts a new episode")

    def __init__(self, world_half_width: float = WORLD_HALF_WIDTH, dt: float = 0.02, use_timestamps: bool = True,
                 jump_x: float = 0.25, jump_theta: float = 0.1) -> None:
        self.half = world_half_width
        self.dt = dt
        self.use_timestamps = use_timestamps
        self.jump_x = jump_x
        self.jump_theta = jump_theta
        self._previous: dict[Any, tuple[float, float, float]] = {}

    @staticmethod
    def _best(objects: list[SceneObject], label: str) -> SceneObject | None:
        candidates = [o for o in objects if o.label == label]
        return max(candidates, key=lambda o: o.score * o.box.area) if candidates else None

    @hookimpl
    def drid_interpret(self, frame: Frame, objects: list[SceneObject]) -> Scene:
        cart, pole = self._best(objects, "cart"), self._best(objects, "pole")
        if cart is None or pole is None:
            missing = " and ".join(n for n, o in (("cart", cart), ("pole", pole)) if o is None)
            return Scene(situations=("lost",), facts=(f"no {missing} recognized in this frame",))
        scale = frame.width / (2 * self.half)
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
            dt = frame.timestamp - t0 if self.use_timestamps and frame.timestamp > t0 else self.dt
            if abs(x - px) <= self.jump_x and abs(theta - pt) <= self.jump_theta:
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
    gymnasium.register(id="CartPoleFrames-v1", entry_point="drid.detect.cartpole:make_frames_env")
