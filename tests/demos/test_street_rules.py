"""The street's rules live in one file, drid/demos/street-rules.yaml (package data, so the demo
works from a plain install); examples/street-rules.yaml is a copy that must stay identical."""

from __future__ import annotations

import fnmatch
from importlib import resources

import pytest
from conftest import ROOT

from drid.demos import video
from drid.pipeline.config import load_config


def test_the_example_is_the_packaged_file():
    packaged = resources.files("drid.demos").joinpath(video.STREET_RULES).read_bytes()
    assert (ROOT / "examples" / "street-rules.yaml").read_bytes() == packaged, \
        "examples/street-rules.yaml and drid/demos/street-rules.yaml differ: edit the packaged one and copy it over"


def test_the_packaged_file_is_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["drid"]
    assert any(fnmatch.fnmatch("demos/street-rules.yaml", pattern) for pattern in data)


def test_the_demo_pipeline_is_the_rules_plus_a_recognizer():
    rules = video.street_rules()
    load_config(ROOT / "examples" / "street-rules.yaml")  # a valid pipeline config as it stands
    assert video.DETECT == [(d["plugin"], d["params"]) for d in rules["detect"]]
    stages = [(stage, plugin) for stage, plugin, _ in video.LATER_STAGES]
    assert stages == [("recognize", "keras-classifier"), ("interpret", "relations"), ("decide", "rules")]
    relations = rules["interpret"][0]["params"]
    assert video.LATER_STAGES[1][2] == relations
    assert video.LATER_STAGES[2][2] == rules["decide"]["params"]
    assert video.ZONES == relations["zones"] and [z["name"] for z in video.ZONES] == ["road"]
    assert video.LINES == relations["lines"] and [line["name"] for line in video.LINES] == ["middle"]
