"""``drid demo driving``: CarRacing-v3 from pixels through the stages, with its outputs; the gym
source's ``pixels: observation``."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

pytest.importorskip("Box2D")

from drid.errors import ConfigError


def test_demo_writes_an_annotated_video_records_and_returns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from drid.demos.driving import run_driving_demo

    assert run_driving_demo("pd", out=tmp_path, max_frames=80) == 0
    target = tmp_path / "demo-driving"
    video = cv2.VideoCapture(str(target / "annotated.mp4"))
    ok, image = video.read()
    count = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    video.release()
    assert ok and image.shape == (384, 384, 3) and count == 80
    lines = (target / "records.jsonl").read_text().splitlines()
    assert len(lines) == 80
    last = json.loads(lines[-1])
    labels = [d["label"] for d in last["detections"]]
    assert "road" in labels and "car" in labels and "speed-bar" in labels
    road = next(d for d in last["detections"] if d["label"] == "road")
    assert road["mask"]["shape"][0] > 40  # JSON Lines shows the mask's shape, not its pixels
    assert any(f.startswith("speed ") for f in last["scene"]["facts"])
    assert len(last["decision"]["action"]) == 3
    report = json.loads((target / "episodes.json").read_text())
    assert report["frames_after_zoom"] == 30 and report["off_road_share_after_zoom"] == 0.0
    assert "CarRacing-v3 from pixels" in capsys.readouterr().out


def test_demo_names_a_missing_policy(tmp_path: Path) -> None:
    from drid.demos.driving import run_driving_demo

    with pytest.raises(ConfigError, match="policy file not found: 'nowhere.npz'"):
        run_driving_demo("nowhere.npz", out=tmp_path, max_frames=5)


def test_gym_source_refuses_pixels_observation_without_a_picture() -> None:
    from drid.pipeline import Pipeline

    pipe = Pipeline(name="t", source=("gym", {"env": "CartPole-v1", "pixels": "observation", "episodes": 1}), max_frames=2)
    with pytest.raises(ConfigError, match="not an HxWx3 uint8 picture"):
        pipe.run()


@pytest.mark.parametrize("name", ["carracing-pd", "carracing-ppo"])
def test_example_configs_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drid import Pipeline

    config = Path(__file__).resolve().parents[2] / "examples" / "driving" / f"{name}.yaml"
    monkeypatch.chdir(tmp_path)  # the policy path is read from the config's folder, the output lands here
    with Pipeline.from_config(config, max_frames=8) as pipe:
        records = list(pipe)
    assert len(records) == 8 and pipe.summary.error is None
    action = records[-1].decision.action if records[-1].decision is not None else None
    assert isinstance(action, tuple) and len(action) == 3
    assert (tmp_path / "out" / f"{name}.jsonl").is_file()
