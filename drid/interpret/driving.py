"""The ``driving-state`` interpreter: the driver's state in CarRacing, from what the ``road``
detector (``drid.detect.road``) found in the 96×96 frame — never from the environment's state.

``scene.features`` (metres, radians, metres per second; see :data:`FEATURES`):

- ``offset``: the car's lateral offset from the road's centre (positive: right of it);
- ``heading``: the car's heading error against the road's direction (positive: pointing right
  of the road);
- ``curvature``: the road's curvature over the stretch ahead (1/m, positive: bending right);
- ``speed``: from the dashboard's speed bar;
- ``off_road``: 1 when the car is off the road (no road under it, or its offset beyond half
  the road's width), else 0;
- ``ahead_5`` … ``ahead_30``: the road centre's lateral position (car frame, metres) 5 … 30 m
  ahead, extrapolated along the last visible direction where the centreline ends earlier;
- ``visible``: how far ahead (m) the centreline was followed;
- ``steering``, ``yaw_rate``: the dashboard's steering-angle and yaw-rate bars (their pixels
  scaled to -1..1 and rad/s).

Scale: CarRacing's camera draws 2.7 × 6 window pixels per metre on its 1000×800 window, scaled to
96×96 — :data:`PX_PER_M` across and along (the frame is squeezed unevenly); during an episode's
first second it zooms in from far (``frame.meta["step"]`` says where in the episode a frame is).
Situations and facts say the same in words: "the road bends left in 12 m", "the car drifts
right", "off the road".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field

from drid.detect.road import CAR_ANCHOR, camera_zoom
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Frame, Scene, SceneObject

__all__ = ["FEATURES", "LOOKAHEAD", "PX_PER_M", "ROAD_HALF_WIDTH", "SPEED_PX_PER_MPS", "SPEED_TABLE", "DrivingStateInterpreter",
           "driver_state", "speed_of_bar"]

#: Pixels per metre of the 96×96 frame at full zoom (across, along): 2.7 × 6 window pixels per
#: metre, the window's 1000×800 scaled to 96×96.
PX_PER_M = (2.7 * 6.0 * 96 / 1000, 2.7 * 6.0 * 96 / 800)
#: Half the road's width (CarRacing's TRACK_WIDTH, 40/6 m).
ROAD_HALF_WIDTH = 40 / 6
#: The speed bar's pixels per m/s: 0.02 × H/40 window pixels per m/s, scaled by 96/800.
SPEED_PX_PER_MPS = 0.02 * 20 * 96 / 800
#: Speed-bar length (pixels, summed intensity of its middle column) → speed (m/s), measured
#: against the car's true speed on seeds 1-3 (full gas, half gas, 0.2 gas, then braking).
SPEED_TABLE = ((0.0, 0.0), (0.475, 5.25), (0.831, 13.62), (1.31, 24.52), (2.024, 39.9), (2.502, 49.33), (3.212, 64.96),
               (4.286, 87.26), (5.0, 100.0))
#: Arc length (m) of the chord whose direction is the road's direction at the car: long enough
#: to average the centre points' sub-pixel noise, short enough not to cut bends (measured on
#: against the true pose over 300 steps of seed 10001 driven by ``driving-pd``: 90th-percentile
#: heading error 3.96 deg with 2 m, 3.20 deg with 4 m, 9.29 deg with 8 m).
HEADING_CHORD = 4.0
#: Lookahead distances (m) of the road centre's lateral position in ``features``.
LOOKAHEAD = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
FEATURES = ("offset", "heading", "curvature", "speed", "off_road", *(f"ahead_{int(d)}" for d in LOOKAHEAD), "visible",
            "steering", "yaw_rate")


def speed_of_bar(length_px: float) -> float:
    """m/s from the speed bar's measured length: the bar is drawn 0.048 px per m/s, but the
    smooth down-scaling of its 2.4-pixel-wide, sub-pixel-tall shape is not linear at the
    bottom, so the reading goes through :data:`SPEED_TABLE`, measured against the car's true
    speed (``drid.decide.driving.true_driver_state``; ``tests/interpret/test_driving.py`` checks the
    reading against it, median within ±3 m/s)."""
    table = np.asarray(SPEED_TABLE)
    if length_px <= table[-1, 0]:
        return float(np.interp(length_px, table[:, 0], table[:, 1]))
    return float(table[-1, 1] + (length_px - table[-1, 0]) / SPEED_PX_PER_MPS)


def driver_state(centre: list[tuple[float, float]] | None, car_x: float | None, speed_px: float, steering_px: float = 0.0,
                 gyro_px: float = 0.0, zoom: float = 1.0) -> dict[str, float]:
    """The driver's state (:data:`FEATURES`) from the road's centreline in frame pixels
    (ordered from behind the car to ahead, as the ``road`` detector gives it), the car's column
    and the dashboard bars (pixels)."""
    sx, sy = PX_PER_M[0] * zoom, PX_PER_M[1] * zoom
    ax = CAR_ANCHOR[0] if car_x is None else car_x
    state: dict[str, float] = {name: 0.0 for name in FEATURES}
    state["speed"] = speed_of_bar(speed_px)
    state["steering"] = steering_px / (10.0 * 25 * 96 / 1000 * 0.42)  # full lock (0.42 rad) drawn 10 * W/40 per rad
    state["yaw_rate"] = -gyro_px / (0.8 * 25 * 96 / 1000)  # drawn -0.8 * W/40 per rad/s (positive: turning left)
    if not centre or len(centre) < 3:
        state["off_road"] = 1.0
        return state
    pts = np.asarray(centre, dtype=np.float64)
    lateral = (pts[:, 0] - ax) / sx
    forward = (CAR_ANCHOR[1] - pts[:, 1]) / sy
    seg = np.hypot(np.diff(lateral), np.diff(forward))
    s = np.concatenate(([0.0], np.cumsum(seg)))
    s -= s[int(np.argmin(np.abs(forward)))]  # arc length from the car's cross-section
    near = (s > -6.0) & (s < 8.0)
    if near.sum() < 3:
        near = np.ones_like(s, bool)
    # a parabola, not a line: in a bend a line's slope at the car is biased by the curvature
    coef = np.polynomial.polynomial.polyfit(forward[near], lateral[near], 2 if near.sum() >= 5 else 1)
    a, b = float(coef[0]), float(coef[1])
    state["offset"] = -float(a) * math.cos(math.atan(float(b)))
    state["heading"] = -math.atan(float(b))
    state["visible"] = float(s[-1])
    direction = np.unwrap(np.arctan2(np.diff(lateral), np.diff(forward)))  # 0 ahead, positive to the right
    mid = 0.5 * (s[1:] + s[:-1])
    if s[-1] >= HEADING_CHORD:  # the chord from the car's point to the centre 4 m along: local, where a fit's slope is pulled by the bend
        i0 = int(np.argmin(np.abs(s)))
        lat4, fwd4 = float(np.interp(HEADING_CHORD, s, lateral)), float(np.interp(HEADING_CHORD, s, forward))
        state["heading"] = -math.atan2(lat4 - lateral[i0], fwd4 - forward[i0])
    ahead = (mid >= 0.0) & (mid <= 20.0)
    if ahead.sum() >= 4 and np.ptp(mid[ahead]) > 3.0:
        state["curvature"] = float(np.polynomial.polynomial.polyfit(mid[ahead], direction[ahead], 1)[1])
    last = float(np.mean(direction[-3:]))
    for d in LOOKAHEAD:
        if d <= s[-1]:
            value = float(np.interp(d, s, lateral))
        else:
            value = float(lateral[-1] + math.sin(last) * (d - s[-1]))
        state[f"ahead_{int(d)}"] = value
    if abs(state["offset"]) > ROAD_HALF_WIDTH + 1.0:  # the car's centre more than a car's half-width past the edge
        state["off_road"] = 1.0
    state["_bend"] = _bend_at(mid, direction, float(-state["heading"]))
    return state


def _bend_at(mid: np.ndarray, direction: np.ndarray, start: float, turn: float = 0.25) -> float:
    """Arc length (m, signed by the side: negative left) where the road's direction first
    differs from its direction at the car by more than ``turn`` radians; 0: no bend in sight."""
    ahead = mid >= 0.0
    off = direction[ahead] - start
    over = np.flatnonzero(np.abs(off) > turn)
    if over.size == 0:
        return 0.0
    i = int(over[0])
    return float(max(mid[ahead][i], 0.1) * (1.0 if off[i] > 0 else -1.0))


def _bend(state: dict[str, float]) -> tuple[str, float] | None:
    """Where the road ahead bends (side, metres along it), or ``None``."""
    at = state.get("_bend", 0.0)
    if at == 0.0:
        return None
    return ("right" if at > 0 else "left"), abs(at)


class DrivingStateInterpreter(Plugin):
    """The driver's state in CarRacing (offset, heading error, curvature, speed, off-road …) from the road detector's findings."""

    drid_name = "driving-state"

    class Params(PluginParams):
        drift_heading: float = Field(default=0.08, gt=0, description="a heading error above this (rad) says the car drifts to that side (about 4.6 deg)")
        drift_offset: float = Field(default=1.5, gt=0, description="an offset above this (m) says the car is on that side of the road")

    params: Params

    @hookimpl
    def drid_interpret(self, frame: Frame, objects: list[SceneObject]) -> Scene:
        """The state as ``scene.features`` (in the order of :data:`FEATURES`) with situations and facts."""
        road = next((o for o in objects if o.label == "road"), None)
        car = next((o for o in objects if o.label == "car"), None)
        bars = {o.label: o for o in objects if o.label.endswith("-bar")}
        speed_px = bars["speed-bar"].box.height if "speed-bar" in bars else 0.0
        steering_px = self._signed(bars.get("steering-bar"))
        gyro_px = self._signed(bars.get("gyro-bar"))
        step = frame.meta.get("step")
        zoom = camera_zoom(int(step) if isinstance(step, (int, np.integer)) else None)
        state = driver_state(list(road.polyline) if road is not None and road.polyline else None,
                             car.box.center[0] if car is not None else None, speed_px, steering_px, gyro_px, zoom)
        situations, facts = self._words(state, road is not None, car is not None)
        return Scene(situations=tuple(situations), facts=tuple(facts), features=np.array([state[k] for k in FEATURES]))

    @staticmethod
    def _signed(bar: SceneObject | None) -> float:
        if bar is None:
            return 0.0
        from drid.detect.road import _GYRO_ZERO, _STEER_ZERO

        zero = _STEER_ZERO if bar.label == "steering-bar" else _GYRO_ZERO
        return bar.box.width if bar.box.x2 > zero + 1e-6 else -bar.box.width

    def _words(self, state: dict[str, float], road_seen: bool, car_seen: bool) -> tuple[list[str], list[str]]:
        situations: list[str] = []
        facts: list[str] = []
        if not road_seen:
            return ["road-lost"], ["no road in sight"]
        if not car_seen:
            situations.append("car-lost")
        if state["off_road"]:
            situations.append("off-road")
            facts.append("the car is off the road")
        else:
            side = "right" if state["offset"] > 0 else "left"
            facts.append(f"the car is {abs(state['offset']):.1f} m {side} of the road's centre")
            if abs(state["offset"]) > self.params.drift_offset:
                situations.append(f"{side}-of-centre")
        if abs(state["heading"]) > self.params.drift_heading:
            side = "right" if state["heading"] > 0 else "left"
            situations.append(f"drifting-{side}")
            facts.append(f"the car drifts {side} ({abs(math.degrees(state['heading'])):.0f} deg off the road's direction)")
        bend = _bend(state)
        if bend is None:
            situations.append("straight-ahead")
            facts.append(f"the road runs straight for {state['visible']:.0f} m")
        else:
            situations.append(f"bend-{bend[0]}")
            facts.append(f"the road bends {bend[0]} in {bend[1]:.0f} m")
        facts.append(f"speed {state['speed'] * 3.6:.0f} km/h")
        return situations, facts


def describe(features: Any) -> dict[str, float]:
    """``scene.features`` as a dict keyed by :data:`FEATURES`."""
    return {k: float(v) for k, v in zip(FEATURES, np.asarray(features).tolist(), strict=True)}
