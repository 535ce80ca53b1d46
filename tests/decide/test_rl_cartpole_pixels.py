"""CartPole from pixels: the detector and recognizer find the cart and the pole on rendered
frames, the estimated state is accurate (the true state is read only to check), and the four-
stage pipeline balances the pole with the shipped policy without ever seeing the env's state."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest

from drid import Frame, Pipeline, hookimpl
from drid.demos.cartpole import DEFAULT_POLICY, angle_errors
from drid.detect.cartpole import CartPoleDetector
from drid.interpret.cartpole import CartPoleStateEstimator
from drid.recognize.cartpole import CartPoleRecognizer
from drid.schemas.messages import build_objects
from drid.sources.cartpole import ANGLE_NOISE, POSITION_NOISE
from drid.sources.gym import GymSource
from drid.testing import CollectSink

#: Stated accuracy of the estimate on rendered frames (cart inside the frame): the render itself
#: snaps the drawing to whole pixels (1 px = 0.0077 m, and 1 px at the pole tip = 0.008 rad).
MAX_POSITION_ERROR = 0.01  # m
MAX_ANGLE_ERROR = math.radians(1.0)


def rendered(states):
    env = gymnasium.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    for i, s in enumerate(states):
        env.unwrapped.state = np.asarray(s, dtype=np.float64)
        yield Frame(index=i, timestamp=i * 0.02, image=np.ascontiguousarray(env.render()[:, :, ::-1]))
    env.close()


def measure(frames):
    det, rec, est = CartPoleDetector(), CartPoleRecognizer(), CartPoleStateEstimator()
    out = []
    for frame in frames:
        detections = det.drid_detect(frame)
        recognitions = rec.drid_recognize(frame, detections)
        objects = list(build_objects(detections, recognitions))
        scene = est.drid_interpret(frame, objects)
        out.append((detections, recognitions, objects, scene))
    return out


def test_detects_and_recognizes_cart_pole_and_axle_by_shape():
    (detections, recognitions, objects, scene), = measure(rendered([[0.3, 0, -0.1, 0]]))
    assert sorted(d.label for d in detections) == ["dark", "ochre", "violet"]
    assert sorted(o.label for o in objects) == ["axle", "cart", "pole"]
    cart = next(o for o in objects if o.label == "cart")
    pole = next(o for o in objects if o.label == "pole")
    assert 45 <= cart.box.width <= 53 and 28 <= cart.box.height <= 33  # the 50 x 30 px cart
    assert pole.box.height > 100 and pole.polyline is not None
    assert all(r.score > 0.9 for r in recognitions)
    assert scene.features is not None and scene.features.shape == (4,)


def test_estimated_position_and_angle_are_accurate():
    rng = np.random.default_rng(0)
    states = np.stack([rng.uniform(-2.0, 2.0, 150), np.zeros(150), rng.uniform(-0.2, 0.2, 150), np.zeros(150)], axis=1)
    results = measure(rendered(states))
    est = np.array([scene.features for *_, scene in results])
    err_x, err_theta = est[:, 0] - states[:, 0], est[:, 2] - states[:, 2]
    assert np.abs(err_x).max() < MAX_POSITION_ERROR
    assert np.abs(err_theta).max() < MAX_ANGLE_ERROR
    # the noise the training wrapper adds (FramesObservation) is the error measured here
    assert 0.5 * POSITION_NOISE < err_x.std() < 1.5 * POSITION_NOISE
    assert 0.5 * ANGLE_NOISE < err_theta.std() < 1.5 * ANGLE_NOISE


def test_velocities_are_frame_differences():
    states = [[0.0, 0, 0.0, 0], [0.02, 0, 0.01, 0], [0.04, 0, 0.02, 0]]  # 1 m/s, 0.5 rad/s over 0.02 s
    results = measure(rendered(states))
    x_dot, theta_dot = results[-1][3].features[1], results[-1][3].features[3]
    assert x_dot == pytest.approx(1.0, abs=0.6) and theta_dot == pytest.approx(0.5, abs=0.6)
    assert "new-episode" in results[0][3].situations and "new-episode" not in results[-1][3].situations


class BlindSource:
    """The gym source with every frame's observation removed: only pixels reach the stages."""

    drid_name = "blind-gym"

    def __init__(self, **params):
        self.inner = GymSource(**params)
        self.originals = {}

    @hookimpl
    def drid_start(self, context):
        self.inner.drid_start(context)

    @hookimpl
    def drid_stop(self, summary):
        self.inner.drid_stop(summary)

    @hookimpl
    def drid_frames(self):
        for frame in self.inner.drid_frames():
            self.originals[frame.index] = frame
            yield frame.model_copy(update={"observation": None})

    @hookimpl
    def drid_act(self, frame, decision):
        return self.inner.drid_act(self.originals.pop(frame.index), decision)


def test_the_pixel_pipeline_balances_the_pole_without_the_state():
    sink = CollectSink()
    source = BlindSource(env="CartPole-v1", seed=11, episodes=1, pixels=True, kwargs={"max_episode_steps": 250})
    pipe = Pipeline(source=source, detect=[("cartpole-parts", {})], recognize=[("cartpole-recognizer", {})], interpret=[("cartpole-state", {})],
                    decide=("ppo", {"policy": str(DEFAULT_POLICY), "learn": False, "observation": "features"}), sinks=[sink])
    pipe.run()
    assert all(r.frame.observation is None for r in sink.records)
    episode = source.inner.episodes[0]
    assert episode["length"] == 250 and episode["return"] == 250.0  # held up until the time limit
    assert sink.records[-1].transition.truncated and not sink.records[-1].transition.terminated
    errors = angle_errors(sink.records)
    assert errors.size == 250
    assert errors.max() < MAX_ANGLE_ERROR and errors.mean() < math.radians(0.4)
    assert {r.decision.plugin for r in sink.records} == {"ppo"}


def test_demo_writes_video_records_and_returns(tmp_path, capsys):
    import json

    import cv2

    from drid.cli import main

    assert main(["demo", "cartpole", "--out", str(tmp_path), "--max-frames", "40"]) == 0
    target = tmp_path / "demo-cartpole"
    capture = cv2.VideoCapture(str(target / "annotated.mp4"))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 40
    report = json.loads((target / "episodes.json").read_text())
    assert report["frames"] == 40 and report["pole_angle_error_deg"]["max"] < 1.0
    assert len((target / "records.jsonl").read_text().splitlines()) == 40
    assert "CartPole-v1 from pixels" in capsys.readouterr().out
