"""examples/vision/*.yaml: every config validates; those on package media run end to end, those on
../shared/data run when it is there."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SHARED_DATA

from drid import Pipeline

EXAMPLES = sorted((ROOT / "examples" / "vision").glob("*.yaml"))


def test_there_are_vision_examples():
    assert {p.stem for p in EXAMPLES} >= {"street-motion", "faces", "pedestrians", "lanes", "people-walking"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, tmp_path, monkeypatch):
    text = path.read_text()
    if "../shared/data" in text and not SHARED_DATA.is_dir():
        pytest.skip("shared data not available")
    monkeypatch.chdir(tmp_path)  # examples work from any directory: their input paths are read from the config's folder
    sinks = yaml.safe_load(text)["sinks"]
    overrides = [f"sinks.{i}.params.path={tmp_path / str(i) / Path(sink['params']['path']).name}" for i, sink in enumerate(sinks)]  # outputs in tmp
    with Pipeline.from_config(path, overrides, max_frames=8) as pipe:
        records = list(pipe)
    assert records and pipe.summary.error is None
    assert any(p.is_file() for p in tmp_path.rglob("*"))
