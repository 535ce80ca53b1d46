"""The ``road`` detector: the road, the car and the dashboard of gymnasium's ``CarRacing-v3``
in its 96×96 frame, by colour, without reading the environment's state.

CarRacing's camera follows the car: the car is drawn at a fixed place (:data:`CAR_ANCHOR`),
pointing up, and the picture rotates around it. The top :data:`PLAY_ROWS` rows show the world
(grey road tiles, two greens of grass, red and white kerbs in bends); the bottom rows are the
dashboard, with the speed as a white vertical bar, the four wheels' spin as blue bars, the
steering angle as a green horizontal bar and the yaw rate as a red one.

Detections (all in frame pixels, sub-pixel where the anti-aliasing allows):

- ``road``: the road region connected to the car; ``mask`` is the road segmentation over its box
  (bool), ``polyline`` the road's centreline from the car forwards, one point per row, with
  sub-pixel edges from the anti-aliased road/grass pixels; ``meta["widths"]`` the road's width
  in pixels at those points.
- ``car``: the car's red hull (``mask`` its pixels).
- ``speed-bar``, ``steering-bar``, ``gyro-bar``: the dashboard bars, ``meta["value"]`` the
  signed length in pixels (speed upwards; steering and yaw rate positive to the right).

The ``driving-state`` interpreter (``drid.interpret.driving``) turns these into the driver's
state; ``drid.decide.driving`` holds the training environment whose observation is that state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import BoundingBox, Detection, Frame

__all__ = ["CAR_ANCHOR", "HALF_WIDTH_PX", "PLAY_ROWS", "ROW_SCALE", "RoadDetector", "RoadReading", "camera_zoom", "read_frame", "road_mask", "roadness"]

#: Rows of the 96×96 frame that show the world; below them is the dashboard.
PLAY_ROWS = 84
#: Where CarRacing draws the car's hull origin (x, y in continuous pixel coordinates): the
#: window's (W/2, 3H/4) of 1000×800 scaled to 96×96.
CAR_ANCHOR = (48.0, 72.0)
#: Dashboard geometry (CarRacing's ``_render_indicators`` on its 1000×800 window, scaled to
#: 96×96): the bars' baseline row and the columns they sit in.
_DASH_BOTTOM = 780 * 96 / 800  # H - h
_SPEED_COLUMNS = (12, 15)  # window x 125..150 -> 12.0..14.4
_STEER_ROWS = (86, 91)  # window y H-4h..H-2h -> 86.4..91.2
_STEER_ZERO = 500 * 96 / 1000  # 20 * W/40
_GYRO_ZERO = 750 * 96 / 1000  # 30 * W/40
_CLOSE_ROW = np.ones((1, 13), np.uint8)
#: The frame's pixels are not square: 2.7 × 6 window pixels per metre on a 1000×800 window
#: scaled to 96×96 give 1.555 px/m across and 1.944 px/m along; the centreline is followed in
#: "across pixels" (rows scaled by this ratio) so that perpendiculars are perpendicular.
ROW_SCALE = 800 / 1000
#: Half the road's width in across-pixels at full zoom (CarRacing's TRACK_WIDTH = 40/6 m).
HALF_WIDTH_PX = 40 / 6 * 2.7 * 6.0 * 96 / 1000
_FPS = 50.0


def camera_zoom(step: int | None) -> float:
    """CarRacing's zoom relative to full zoom for the observation after ``step`` actions: it
    zooms from 0.1 to 2.7 over the episode's first second (the reset's own step counts);
    ``None``: full zoom."""
    if step is None:
        return 1.0
    t = (step + 1) / _FPS
    return (0.1 * max(1.0 - t, 0.0) + 2.7 * min(t, 1.0)) / 2.7


def _planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The play area's b, g, r planes (int16) and their per-pixel max and min."""
    play = image[:PLAY_ROWS].astype(np.int16)
    b, g, r = play[:, :, 0], play[:, :, 1], play[:, :, 2]
    return b, g, r, np.maximum(np.maximum(b, g), r), np.minimum(np.minimum(b, g), r)


def road_mask(image: np.ndarray) -> np.ndarray:
    """Road pixels of a BGR CarRacing frame's play area (bool, ``PLAY_ROWS × W``): grey (the
    channels within 24 of each other) and neither dark (wheels, skid marks) nor white (kerbs).
    The road's tiles are (102..107)³ in RGB, the grass (102, 204|230, 102)."""
    _, _, _, hi, lo = _planes(image)
    return (hi - lo < 24) & (lo > 60) & (hi < 170)


@dataclass
class RoadReading:
    """What the detector measured in one frame (pixels; see the module's docstring)."""

    mask: np.ndarray
    centre: list[tuple[float, float]] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    car_box: tuple[float, float, float, float] | None = None
    car_mask: np.ndarray | None = None
    speed_px: float = 0.0
    steering_px: float = 0.0
    gyro_px: float = 0.0


def _fill_wildcards(mask: np.ndarray, planes: tuple[np.ndarray, ...]) -> np.ndarray:
    """The road mask with what stands on the road counted as road: the car (its red hull and
    black wheels) and dark skid marks, where road continues on both sides of them in the row
    (a horizontal closing, kept to those pixels)."""
    b, g, r, hi, _ = planes
    wild = (hi < 70) | ((r > 120) & (r < 235) & (g < 110) & (b < 110))
    wild |= (np.abs(g - r) < 40) & (np.abs(g - b) < 40) & (hi < 170)  # blends of road with the car or marks
    closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, _CLOSE_ROW).astype(bool)
    return mask | (wild & closed)


def roadness(filled: np.ndarray, planes: tuple[np.ndarray, ...]) -> np.ndarray:
    """How much of each play-area pixel is road (float32, 0..1): 1 on the (filled) road, the
    share of road in anti-aliased road/grass edge pixels from their green excess (0 on the road,
    about 100 on grass: the smooth down-scaling mixes them linearly), 0 elsewhere."""
    b, g, r, hi, lo = planes
    share = np.clip(1.0 - (g - 0.5 * (r + b)) / 100.0, 0.0, 1.0).astype(np.float32)
    share[(g < r) | (hi - lo > 150)] = 0.0  # kerbs and the car hold no road share
    share[filled] = 1.0
    return share


def _car(image: np.ndarray) -> tuple[tuple[float, float, float, float] | None, np.ndarray | None]:
    """The red hull near the anchor: (x1, y1, x2, y2) and its mask over that box."""
    ax, ay = int(CAR_ANCHOR[0]), int(CAR_ANCHOR[1])
    y0, x0 = ay - 10, ax - 10
    win = image[y0 : ay + 10, x0 : ax + 10].astype(np.int16)
    b, g, r = win[:, :, 0], win[:, :, 1], win[:, :, 2]
    red = (r > 120) & (r < 235) & (g < 110) & (b < 110) & (r - g > 70)  # the hull (204, 0, 0), not the kerbs (255, 0, 0)
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(red.astype(np.uint8), connectivity=8)
    if n < 2:
        return None, None
    # the hull is the red blob nearest the anchor (kerbs beside the car are red too)
    k = 1 + int(np.argmin(np.hypot(centroids[1:, 0] - (ax - x0), centroids[1:, 1] - (ay - y0))))
    x, y, w, h, area = (int(v) for v in stats[k])
    if area < 4 or abs(centroids[k, 0] - (ax - x0)) > 4:
        return None, None
    box = (float(x0 + x), float(y0 + y), float(x0 + x + w), float(y0 + y + h))
    return box, labels[y : y + h, x : x + w] == k


def _bar_length(image: np.ndarray, columns: tuple[int, int], channel: int) -> float:
    """Height (pixels, sub-pixel from the anti-aliasing) of a vertical dashboard bar: the summed
    intensity of the column where it is fully covered."""
    column = image[PLAY_ROWS:, (columns[0] + columns[1]) // 2 - 0, channel].astype(np.float64)
    return float(column.sum() / 255.0)


def _horizontal_bar(image: np.ndarray, zero: float, channel: int, others: tuple[int, int]) -> float:
    """Signed length (pixels, positive to the right) of a horizontal dashboard bar starting at ``zero``."""
    rows = image[_STEER_ROWS[0] + 1 : _STEER_ROWS[1] - 1].astype(np.float64)
    lit = np.clip((rows[:, :, channel] - np.maximum(rows[:, :, others[0]], rows[:, :, others[1]])) / 255.0, 0.0, 1.0).mean(0)
    x = np.arange(lit.size) + 0.5
    right = lit[x > zero].sum()
    left = lit[(x < zero) & (x > zero - 12)].sum()
    return float(right - left)


def _segment(values: np.ndarray, valid: np.ndarray, t: np.ndarray, at: float) -> tuple[float | None, float | None] | None:
    """The road's two edges (positions along ``t``, ``None`` where the road runs out of the
    frame) on a cross-section sampled at ``t`` with road shares ``values``: the stretch of
    share >= 0.5 holding ``at`` (or the nearest one), its ends interpolated at 0.5."""
    on = (values >= 0.5) & valid
    if not on.any():
        return None
    i = int(np.argmin(np.abs(t - at)))
    if not on[i]:
        idx = np.flatnonzero(on)
        i = int(idx[np.argmin(np.abs(idx - i))])
    lo = i
    while lo > 0 and on[lo - 1]:
        lo -= 1
    hi = i
    while hi < t.size - 1 and on[hi + 1]:
        hi += 1

    def edge(inside: int, outside: int) -> float | None:
        if outside < 0 or outside >= t.size or not valid[outside]:
            return None
        v0, v1 = float(values[inside]), float(values[outside])
        frac = (v0 - 0.5) / (v0 - v1) if v0 != v1 else 0.5
        return float(t[inside] + frac * (t[outside] - t[inside]))

    return edge(lo, lo - 1), edge(hi, hi + 1)


def read_frame(image: np.ndarray, zoom: float = 1.0, step_m: float = 2.0, reach_m: float = 40.0, max_turn: float = 1.2) -> RoadReading:
    """Measures one BGR CarRacing frame: road mask and centreline, car box, dashboard bars.

    The centreline is followed from the car: a cross-section of the road's share map
    perpendicular to the current direction every ``step_m`` metres (sub-pixel edges from the
    anti-aliasing), its middle the next point — the middle of the two edges, or half a road's
    width in from the one edge inside the frame. Following bends of any sharpness; it stops
    ``reach_m`` metres ahead, where the road leaves the frame or widens past 1.6 road widths
    (a junction with another stretch), or turns by more than ``max_turn`` radians in one step.
    ``zoom``: the camera's zoom relative to full (see :func:`camera_zoom`)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < PLAY_ROWS + 12:
        raise ValueError(f"expected CarRacing's 96x96 BGR frame, got an image of shape {image.shape}")
    planes = _planes(image)
    _, _, _, hi, lo = planes
    mask = (hi - lo < 24) & (lo > 60) & (hi < 170)  # road_mask, from the planes already split
    car_box, car_mask = _car(image)
    filled = _fill_wildcards(mask, planes)
    share = roadness(filled, planes)
    if car_box is not None:  # the car stands on what it stands on: its hull and wheels count as road
        x1, y1, x2, y2 = (int(v) for v in car_box)
        around = image[y1 - 1 : y2 + 1, x1 - 2 : x2 + 2].astype(np.int16)
        hull = (around.max(2) < 70) | ((around[:, :, 2] > 120) & (around[:, :, 1] < 110))
        share[y1 - 1 : y2 + 1, x1 - 2 : x2 + 2][hull] = 1.0
    reading = RoadReading(mask=filled, car_box=car_box, car_mask=car_mask)
    half = HALF_WIDTH_PX * zoom
    px_per_m = half / (40 / 6)
    H, W = share.shape
    t = np.arange(-2.2 * half, 2.2 * half + 1e-9, 0.5, dtype=np.float32)

    def section(cu: float, cv: float, du: float, dv: float, at: float) -> tuple[float, float, float] | None:
        nu, nv = -dv, du  # the normal, pointing right of the direction (u right, v down)
        us, vs = cu + t * nu, cv + t * nv
        xs, ys = us - 0.5, vs / ROW_SCALE - 0.5  # remap puts pixel centres at integers, the geometry at +0.5
        valid = (xs >= 0) & (xs <= W - 1) & (ys >= 0) & (ys <= H - 1)
        values = cv2.remap(share, xs.reshape(1, -1), ys.reshape(1, -1), cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)[0]
        edges = _segment(values, valid, t, at)
        if edges is None:
            return None
        left, right = edges
        if left is not None and right is not None:
            width = right - left
            if width > 3.2 * half or width < half:  # two stretches of road side by side, or a sliver beside the car
                return None
            mid = 0.5 * (left + right)
        elif left is not None:
            mid, width = left + half, float("nan")
        elif right is not None:
            mid, width = right - half, float("nan")
        else:
            return None
        return cu + mid * nu, cv + mid * nv, width

    car_u = 0.5 * (car_box[0] + car_box[2]) if car_box is not None else CAR_ANCHOR[0]
    car_v = CAR_ANCHOR[1] * ROW_SCALE
    first = section(car_u, car_v, 0.0, -1.0, 0.0)
    if first is not None:
        points = [first]
        for direction in (-1.0, 1.0):  # ahead (up the frame), then behind the car (down to the dashboard)
            du, dv = 0.0, direction
            cu, cv = first[0], first[1]
            travelled = 0.0
            limit = reach_m if direction < 0 else 0.0  # behind the car the wheels and kerbs split the road: not followed
            ahead: list[tuple[float, float, float]] = []
            while travelled < limit:
                pu, pv = cu + du * step_m * px_per_m, cv + dv * step_m * px_per_m
                found = section(pu, pv, du, dv, 0.0)
                if found is None:
                    break
                nu, nv = found[0] - cu, found[1] - cv
                norm = math.hypot(nu, nv)
                if norm < 1e-6:
                    break
                nu, nv = nu / norm, nv / norm
                if du * nu + dv * nv < math.cos(max_turn):
                    break
                # the new direction half-way to the last chord's: a centre point's sub-pixel noise
                # over a 2-pixel chord would otherwise swing it by tenths of a radian
                nu, nv = du + nu, dv + nv
                norm = math.hypot(nu, nv)
                cu, cv, du, dv = found[0], found[1], nu / norm, nv / norm
                travelled += step_m
                ahead.append(found)
            points = ([*points, *ahead] if direction < 0 else [*reversed(ahead), *points])
        # one refinement pass: each point again, on a cross-section perpendicular to the chord of
        # its neighbours (the march's direction lags in bends, and a slanted cross-section's middle
        # lies outside the bend); the car's own point keeps the car's row
        refined = list(points)
        for i in range(1, len(points)):
            j = min(i + 1, len(points) - 1)
            du, dv = points[j][0] - points[i - 1][0], points[j][1] - points[i - 1][1]
            norm = math.hypot(du, dv)
            if norm > 1e-6:
                again = section(points[i][0], points[i][1], du / norm, dv / norm, 0.0)
                if again is not None and math.hypot(again[0] - points[i][0], again[1] - points[i][1]) < half:
                    refined[i] = again
        if len(points) >= 2:  # the car's point: where the road's centre crosses the car's row
            (u0, v0, _), (u1, v1, _) = refined[0], refined[1]
            du, dv = u1 - u0, v1 - v0
            norm = math.hypot(du, dv)
            again = section(u0, v0, du / norm, dv / norm, 0.0) if norm > 1e-6 else None
            if again is not None and abs(dv) > 1e-6:
                # move along the road's direction back onto the car's row
                k = (car_v - again[1]) / dv
                refined[0] = (again[0] + k * du, car_v, again[2])
        points = refined
        # ordered from behind the car to the farthest point ahead
        reading.centre = [(round(u, 3), round(v / ROW_SCALE, 3)) for u, v, _ in points]
        reading.widths = [round(w, 3) for _, _, w in points]
    reading.speed_px = _bar_length(image, _SPEED_COLUMNS, 0)
    reading.steering_px = _horizontal_bar(image, _STEER_ZERO, 1, (0, 2))
    reading.gyro_px = _horizontal_bar(image, _GYRO_ZERO, 2, (0, 1))
    return reading


class RoadDetector(Plugin):
    """CarRacing's road (segmentation mask and centreline), car and dashboard bars, by colour."""

    drid_name = "road"

    class Params(PluginParams):
        step: float = Field(default=2.0, gt=0, le=10, description="metres between the centreline's cross-sections")
        reach: float = Field(default=40.0, gt=0, description="follow the centreline this far ahead (m); the frame shows about 37 m ahead, more beside the car in bends")
        max_turn: float = Field(default=1.2, gt=0, le=3.2, description="the centreline's largest turn between cross-sections (rad) before following stops: sharper means another stretch of road")

    params: Params

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """``road`` (mask, centreline), ``car`` and the dashboard bars of a CarRacing frame."""
        image = frame.image
        if image is None:
            raise ValueError("the road detector needs frame.image (run the gym source with pixels: observation)")
        step = frame.meta.get("step")
        zoom = camera_zoom(int(step) if isinstance(step, (int, np.integer)) else None)
        p = self.params
        r = read_frame(image, zoom, p.step, p.reach, p.max_turn)
        return detections_of(r, image.shape[1], image.shape[0])


def detections_of(r: RoadReading, width: int, height: int) -> list[Detection]:
    """The detections of a :class:`RoadReading`."""
    out: list[Detection] = []
    ys, xs = np.nonzero(r.mask)
    if xs.size:
        x1, x2, y1, y2 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        meta: dict[str, Any] = {"widths": [None if math.isnan(w) else round(w, 3) for w in r.widths], "road_fraction": round(float(r.mask.mean()), 4)}
        out.append(Detection(box=BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2), label="road", score=1.0, mask=r.mask[y1:y2, x1:x2],
                             polyline=tuple(r.centre) if len(r.centre) >= 2 else None, meta=meta))
    if r.car_box is not None:
        out.append(Detection(box=BoundingBox(x1=r.car_box[0], y1=r.car_box[1], x2=r.car_box[2], y2=r.car_box[3]), label="car",
                             score=1.0, mask=r.car_mask))
    bottom = _DASH_BOTTOM
    bars = (
        ("speed-bar", r.speed_px, BoundingBox(x1=_SPEED_COLUMNS[0], y1=bottom - r.speed_px, x2=_SPEED_COLUMNS[1], y2=bottom)),
        ("steering-bar", r.steering_px, BoundingBox(x1=min(_STEER_ZERO, _STEER_ZERO + r.steering_px), y1=_STEER_ROWS[0],
                                                    x2=max(_STEER_ZERO, _STEER_ZERO + r.steering_px), y2=_STEER_ROWS[1])),
        ("gyro-bar", r.gyro_px, BoundingBox(x1=min(_GYRO_ZERO, _GYRO_ZERO + r.gyro_px), y1=_STEER_ROWS[0],
                                            x2=max(_GYRO_ZERO, _GYRO_ZERO + r.gyro_px), y2=_STEER_ROWS[1])),
    )
    for label, value, box in bars:
        out.append(Detection(box=box.clip(width, height), label=label, score=1.0, meta={"value": round(value, 4)}))
    return out
