"""A third-party plugin, pip-installed from its own distribution, is found and runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

EXAMPLE = ROOT / "examples" / "drid-plugin-example"
DRID = [sys.executable, "-m", "drid.cli"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The example distribution pip-installed into a private target folder (a copy of the
    source is built, so the repository stays clean); the environment that sees it."""
    work = tmp_path_factory.mktemp("thirdparty")
    src = work / "src"
    shutil.copytree(EXAMPLE, src)
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), str(src)],
        check=True,
        capture_output=True,
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(target), str(ROOT)]))
    return env


def test_appears_in_drid_plugins(installed):
    out = subprocess.run([*DRID, "plugins", "--json"], env=installed, capture_output=True, text=True, check=True).stdout
    rows = {r["name"]: r for r in json.loads(out)}
    row = rows["color-regions"]
    assert row["distribution"] == "drid-color-regions" and row["version"] == "0.2.0"
    assert row["stages"] == ["detect"] and row["error"] is None
    assert {p["name"]: p["default"] for p in row["parameters"]}["hue_max"] == 22
    # the built-ins are still there, through the same entry-point group
    assert {"images", "video", "jsonl"} <= set(rows)


def test_runs_in_a_pipeline_config(installed, tmp_path, sample_photos):
    out = tmp_path / "flower.jsonl"
    cmd = [*DRID, "run", str(EXAMPLE / "flower.yaml"), "--set", f"source.params.path={sample_photos / 'flower.jpg'}", "--set", f"sinks.0.params.path={out}"]
    result = subprocess.run(cmd, env=installed, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "color-regions" in result.stdout  # the summary table names the plugin
    record = json.loads(out.read_text().splitlines()[0])
    boxes = [d["box"] for d in record["detections"]]
    assert all(d["plugin"] == "color-regions" and d["label"] == "orange" for d in record["detections"])
    # hand-annotated: the dahlia, and the second flower cut by the bottom edge
    from drid import BoundingBox

    truth = [BoundingBox(x1=170, y1=84, x2=446, y2=372), BoundingBox(x1=290, y1=345, x2=450, y2=427)]
    found = [BoundingBox(**b) for b in boxes]
    assert len(found) == 2
    for t in truth:
        assert max(t.iou(f) for f in found) > 0.8


def test_its_parameters_are_validated_before_running(installed, tmp_path, sample_photos):
    cmd = [*DRID, "run", str(EXAMPLE / "flower.yaml"), "--set", "detect.0.params.hue_max=2", "--set", f"source.params.path={sample_photos / 'flower.jpg'}"]
    result = subprocess.run(cmd, env=installed, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"drid: error: {EXAMPLE / 'flower.yaml'}: detect[0].params: plugin 'color-regions': Value error, hue_max (2) is below hue_min (5) (got {{'hue_min': 5, 'hue_max': 2, 'label': 'orange'}})"
    ]
