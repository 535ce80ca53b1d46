"""Configs and the registry: every mistake is found before a frame is read, with its location."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import BaseModel, Field

from drid import Pipeline, hookimpl
from drid.pipeline import ConfigError, PipelineConfig, Registry, apply_overrides, load_config
from drid.pipeline.registry import params_model_of
from drid.testing import CollectSink, SyntheticSource


class Thresholder:
    """Finds pixels brighter than a threshold."""

    class Params(BaseModel):
        threshold: int = Field(default=128, ge=0, le=255, description="grey level")
        label: str = "bright"

    def __init__(self, threshold: int = 128, label: str = "bright") -> None:
        self.threshold = threshold
        self.label = label

    @hookimpl
    def drid_detect(self, frame):
        return []


class Plain:
    """Parameters from the constructor signature, no Params model."""

    def __init__(self, scale: float = 1.0, name: str = "x") -> None:
        self.scale = scale

    @hookimpl
    def drid_detect(self, frame):
        return []


@pytest.fixture
def registry():
    reg = Registry()  # the installed entry points (images, video, jsonl, …) plus ours
    reg.add("synthetic", SyntheticSource)
    reg.add("thresholder", Thresholder)
    reg.add("plain", Plain)
    reg.add("collect", CollectSink)
    return reg


def write(tmp_path, text):
    p = tmp_path / "pipe.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def build(tmp_path, registry, text, overrides=None):
    cfg = load_config(write(tmp_path, text), overrides)
    return Pipeline.from_config(cfg, registry=registry)


def test_valid_config_builds_and_runs(tmp_path, registry):
    pipe = build(tmp_path, registry, """
        name: demo
        source: {plugin: synthetic, params: {n: 5}}
        detect: [thresholder, {plugin: plain, params: {scale: 2}}]
        sinks: [collect]
        engine: {mode: concurrent, queue_size: 2}
    """)
    assert pipe.mode == "concurrent" and pipe.name == "demo"
    summary = pipe.run()
    assert summary.frames_out == 5
    assert list(summary.stages["detect"].plugins) == ["thresholder", "plain"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("source: {plugin: synthetc}", r"pipe.yaml: source.plugin: unknown plugin 'synthetc' \(did you mean 'synthetic'\?\)"),
        ("source: synthetic\ndetect: [{plugin: thresholder, params: {treshold: 3}}]",
         r"pipe.yaml: detect\[0\].params.treshold: unknown parameter of plugin 'thresholder' \(did you mean 'threshold'\?\)"),
        ("source: synthetic\ndetect: [{plugin: thresholder, params: {threshold: 300}}]",
         r"detect\[0\].params.threshold: plugin 'thresholder': Input should be less than or equal to 255 \(got 300\)"),
        ("source: synthetic\ndetect: [thresholder, {plugin: plain, params: {scale: fast}}]",
         r"detect\[1\].params.scale: plugin 'plain': Input should be a valid number.*\(got 'fast'\)"),
        ("source: synthetic\ndetekt: [thresholder]", r"pipe.yaml: detekt: unknown key \(did you mean 'detect'\?\)"),
        ("source: synthetic\nengine: {mode: parallel}", r"engine.mode: Input should be 'sequential' or 'concurrent'"),
        ("source: synthetic\nengine: {moed: concurrent}", r"engine.moed: unknown key \(did you mean 'mode'\?\)"),
        ("source: synthetic\ndetect: [{plugin: plain, parms: {}}]", r"detect\[0\].parms: unknown key \(did you mean 'params'\?\)"),
        ("detect: [plain]", r"source: required but missing"),
        ("source: synthetic\nsinks: [thresholder]", r"sinks\[0\]: plugin 'thresholder' cannot be used as sink: it has no drid_write hook \(it can be used as: detect\)"),
        ("source: collect", r"source: plugin 'collect' cannot be used as source"),
        ("- just\n- a list", r"a pipeline config must be a mapping"),
        ("source: {plugin: synthetic\n  params: [", r"pipe.yaml: line \d+: invalid YAML"),
    ],
)
def test_mistakes_are_reported_with_their_location(tmp_path, registry, text, message):
    with pytest.raises(ConfigError, match=message):
        build(tmp_path, registry, text)


def test_a_word_that_begins_a_parameter_name_is_suggested_before_spelling_neighbours():
    from drid.errors import close_matches

    cascade = ["cascade", "label", "scale_factor", "min_neighbors", "min_size", "max_size", "resize", "equalize"]
    assert close_matches("scale", cascade) == " (did you mean 'scale_factor' or 'cascade'?)"  # it said only 'cascade'
    assert close_matches("size", ["min_size", "max_size", "input_size", "resize", "stride"]).startswith(" (did you mean 'min_size' or 'max_size' or 'input_size'")
    assert close_matches("histroy", ["history", "kernel"]) == " (did you mean 'history'?)"
    assert close_matches("zzz", ["history", "kernel"]) == ""


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match="config file is empty"):
        load_config(tmp_path / "empty.yaml")


def test_errors_come_before_any_frame_is_read(tmp_path, registry):
    read = []

    class Watching(SyntheticSource):
        def frame(self, i):
            read.append(i)
            return super().frame(i)

    registry.add("watching", Watching)
    with pytest.raises(ConfigError):
        build(tmp_path, registry, "source: watching\ndetect: [{plugin: thresholder, params: {threshold: -1}}]")
    assert read == []


def test_overrides(tmp_path, registry):
    text = """
        source: {plugin: synthetic, params: {n: 5}}
        detect: [{plugin: thresholder}]
    """
    cfg = load_config(write(tmp_path, text), ["source.params.n=7", "detect.0.params.threshold=10", "engine.mode=concurrent", "detect[1]=plain"])
    assert cfg.source.params == {"n": 7}
    assert cfg.detect[0].params == {"threshold": 10} and cfg.detect[1].plugin == "plain"
    assert cfg.engine.mode == "concurrent"
    with pytest.raises(ConfigError, match=r"override 'oops' is not key=value"):
        apply_overrides({}, ["oops"])
    with pytest.raises(ConfigError, match=r"detect.5.params.x: no list item 5"):
        apply_overrides({"detect": []}, ["detect.5.params.x=1"])


def test_per_stage_and_per_plugin_error_policies_parse():
    cfg = PipelineConfig.parse({"source": "s", "detect": [{"plugin": "a", "on_error": "continue"}], "engine": {"on_error": {"detect": "skip"}}})
    assert cfg.engine.policy("detect") == "skip" and cfg.engine.policy("decide") == "fail"
    assert cfg.detect[0].on_error == "continue"
    with pytest.raises(ConfigError, match=r"engine.on_error"):
        PipelineConfig.parse({"source": "s", "engine": {"on_error": {"detect": "ignore"}}})


def test_params_model_from_signature():
    model = params_model_of(Plain)
    assert model(scale=2).scale == 2.0
    assert set(model.model_fields) == {"scale", "name"}


def test_a_broken_plugin_is_reported_not_fatal(registry, monkeypatch):
    from importlib.metadata import EntryPoint

    reg = Registry()
    reg._entries["broken"] = EntryPoint(name="broken", value="drid_no_such_module:Thing", group="drid")
    infos = {i.name: i for i in reg.all()}
    assert infos["broken"].error.startswith("ModuleNotFoundError")
    assert infos["images"].ok and infos["jsonl"].ok
    with pytest.raises(ConfigError, match=r"source.plugin: plugin 'broken' \(drid_no_such_module:Thing\) failed to load: ModuleNotFoundError"):
        reg.get("broken", path="source.plugin")


def test_builtins_come_from_the_entry_point_group():
    reg = Registry()
    for name, role in (("images", "source"), ("video", "source"), ("jsonl", "sink")):
        info = reg.info(name)
        assert info.distribution == "drid" and role in info.roles, name
