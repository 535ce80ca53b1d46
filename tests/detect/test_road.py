"""The road detector on frames CarRacing-v3 renders: the road's mask and centreline, the car,
the dashboard's bars, and clear errors for pictures it cannot read."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("Box2D")

import gymnasium

from drid.detect.road import CAR_ANCHOR, HALF_WIDTH_PX, PLAY_ROWS, RoadDetector
from drid.schemas import Detection, Frame


def _frames(seed: int, actions: list[tuple[float, float, float]]) -> list[np.ndarray]:
    """BGR frames after each action of a fixed action list."""
    env = gymnasium.make("CarRacing-v3")
    obs, _ = env.reset(seed=seed)
    out = []
    for a in actions:
        obs, *_ = env.step(np.array(a, np.float32))
        out.append(np.ascontiguousarray(obs[:, :, ::-1]))
    env.close()
    return out


@pytest.fixture(scope="module")
def straight() -> tuple[np.ndarray, np.ndarray]:
    """At rest after the zoom-in, then after a second of gas on the start's straight."""
    frames = _frames(10_003, [(0.0, 0.0, 0.0)] * 55 + [(0.0, 0.3, 0.0)] * 50)
    return frames[54], frames[-1]


def _detect(image: np.ndarray, step: int = 100) -> dict[str, Detection]:
    found = RoadDetector().drid_detect(Frame(index=0, timestamp=0.0, source="CarRacing-v3", image=image, meta={"step": step}))
    return {d.label: d for d in found}


def test_road_mask_and_centreline_on_the_straight(straight: tuple[np.ndarray, np.ndarray]) -> None:
    found = _detect(straight[1])
    road = found["road"]
    assert road.mask is not None and road.mask.dtype == bool
    assert road.mask.shape == (int(road.box.height), int(road.box.width))
    full = np.zeros((PLAY_ROWS, 96), bool)
    full[int(road.box.y1) : int(road.box.y2), int(road.box.x1) : int(road.box.x2)] = road.mask
    assert full[20:66, 44:53].mean() > 0.95  # the road straight ahead of the car
    assert full[:, :8].mean() < 0.2 or full[:, -8:].mean() < 0.2  # not the whole frame: grass beside it
    assert road.polyline is not None and len(road.polyline) >= 15
    widths = [float(w) for w in road.meta["widths"] if isinstance(w, (int, float))]  # type: ignore[union-attr]
    # the road is 40/3 m wide: 20.7 px across at full zoom
    assert abs(float(np.median(widths)) - 2 * HALF_WIDTH_PX) < 1.0
    xs = np.array([p[0] for p in road.polyline])
    assert np.all(np.abs(xs - CAR_ANCHOR[0]) < 4.0)  # the car starts on the centre of a straight


def test_car_found_at_the_camera_anchor(straight: tuple[np.ndarray, np.ndarray]) -> None:
    car = _detect(straight[0])["car"]
    cx, cy = car.box.center
    assert abs(cx - CAR_ANCHOR[0]) < 1.0 and abs(cy - CAR_ANCHOR[1]) < 4.0
    assert car.mask is not None and car.mask.any()


def test_speed_bar_grows_with_speed(straight: tuple[np.ndarray, np.ndarray]) -> None:
    rest, moving = (_detect(im)["speed-bar"] for im in straight)
    value = float(moving.meta["value"])  # type: ignore[arg-type]
    assert rest.meta["value"] == 0.0
    assert value > 0.5 and moving.box.height == pytest.approx(value, abs=1e-3)


def test_no_road_far_off_it() -> None:
    """Full gas with the wheel turned leaves the road: in the end only grass is around the car."""
    frames = _frames(10_004, [(0.0, 0.0, 0.0)] * 50 + [(1.0, 0.6, 0.0)] * 250)
    found = _detect(frames[-1])
    road = found.get("road")
    near_car = road is None or road.polyline is None or min(abs(y - CAR_ANCHOR[1]) for _, y in road.polyline) > 3
    assert near_car


def test_pictures_it_cannot_read_are_refused() -> None:
    detector = RoadDetector()
    with pytest.raises(ValueError, match="96x96 BGR frame, got an image of shape"):
        detector.drid_detect(Frame(index=0, timestamp=0.0, source="x", image=np.zeros((64, 64, 3), np.uint8)))
    with pytest.raises(ValueError, match="pixels: observation"):
        detector.drid_detect(Frame(index=0, timestamp=0.0, source="x", observation=np.zeros(4)))
