"""The drid command as a user meets it: exit codes, one-line errors, tables, JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, cli

from drid.cli import main


def _images_path_is_an_input_path() -> bool:
    from drid.pipeline.params import InputPath
    from drid.sources.files import ImageSource

    return any(isinstance(m, InputPath) for m in ImageSource.Params.model_fields["path"].metadata)


# A missing input is a config error naming file and key once the images source declares its path
# an InputPath (hardening-config's request 1 to the sources' owner); a run-time error before.
MISSING_IMAGE = (2, "drid: error: {config}: source.params.path: plugin 'images': Value error, no such file or folder: '/no/such.png' "
                    "(got '/no/such.png')") if _images_path_is_an_input_path() else (1, "drid: error: images: file not found: '/no/such.png'")


@pytest.fixture
def config(tmp_path, sample_photos):
    p = tmp_path / "photos.yaml"
    p.write_text(f"""
name: photos
source: {{plugin: images, params: {{path: "{sample_photos}", repeat: 3}}}}
sinks: [{{plugin: jsonl, params: {{path: "{tmp_path / 'out.jsonl'}"}}}}]
""")
    return p


def test_run_prints_the_summary_table(capsys, config, tmp_path):
    code, out, err = cli(capsys, "run", str(config), "--summary-json", str(tmp_path / "s.json"))
    assert code == 0, err
    assert "done: 6 frames read, 6 written, 0 dropped" in out
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 6
    assert json.loads((tmp_path / "s.json").read_text())["frames_out"] == 6


def test_run_options(capsys, config, tmp_path):
    code, out, _ = cli(capsys, "run", str(config), "--mode", "concurrent", "--max-frames", "4", "--set", "name=renamed")
    assert code == 0 and "4 frames read, 4 written" in out and "concurrent" in out


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["run", "missing.yaml"], 2, "drid: error: missing.yaml: config file not found"),
        (["run", "{config}", "--set", "source.plugin=imagez"], 2, "drid: error: {config}: source.plugin: unknown plugin 'imagez' (did you mean 'images'?)"),
        (["run", "{config}", "--set", "source.params.path=/no/such.png"], *MISSING_IMAGE),
        (["schema", "Detecton"], 2, "drid: error: schema: unknown message 'Detecton' (did you mean 'Detection' or 'Decision'?)"),
        (["plugins", "jsnol"], 2, "drid: error: plugins: unknown plugin 'jsnol' (did you mean 'jsonl'?)"),
    ],
)
def test_errors_are_one_line_without_traceback(capsys, config, args, code, message):
    args = [a.replace("{config}", str(config)) for a in args]
    got, out, err = cli(capsys, *args)
    assert got == code
    assert err.strip().splitlines() == [message.replace("{config}", str(config))]
    assert "Traceback" not in err


def test_traceback_on_request(capsys, config):
    from drid.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["--traceback", "run", str(config), "--set", "source.plugin=nope"])


def test_usage_errors(capsys):
    code, _, err = cli(capsys, "run", "x.yaml", "--max-frames", "0")
    assert code == 2 and "must be at least 1" in err
    code, _, err = cli(capsys, "run", "x.yaml", "--mode", "fast")
    assert code == 2 and "invalid choice: 'fast'" in err
    code, out, _ = cli(capsys)
    assert code == 2 and "drid run" in out  # no command: the help, with examples


def test_help_teaches(capsys):
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    for word in ("run", "plugins", "schema", "demo", "examples:", "source:", "--set"):
        assert word in out
    code, out, _ = cli(capsys, "run", "--help")
    assert code == 0 and "KEY=VALUE" in out and "--mode" in out


def test_plugins_lists_parameters(capsys):
    code, out, _ = cli(capsys, "plugins")
    assert code == 0
    assert "images" in out and "path: str (required)" in out
    code, out, _ = cli(capsys, "plugins", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["jsonl"]["stages"] == ["sink"] and rows["jsonl"]["distribution"] == "drid"
    assert {p["name"] for p in rows["video"]["parameters"]} >= {"path", "stride", "start", "stop"}


def test_schema_prints_every_message(capsys):
    code, out, _ = cli(capsys, "schema")
    doc = json.loads(out)
    assert code == 0 and {"Frame", "BoundingBox", "Detection", "Recognition", "SceneObject", "Relation", "Scene", "Decision", "Transition", "FrameRecord"} <= set(doc)
    code, out, _ = cli(capsys, "schema", "Detection")
    assert json.loads(out)["title"] == "Detection"


def test_ctrl_c_exits_130_with_complete_output(tmp_path, sample_photos):
    """A real SIGINT to a running `drid run`: summary printed, JSONL whole, exit 130."""
    out = tmp_path / "int.jsonl"
    cfg = tmp_path / "c.yaml"
    # 200,000 decoded photos would take many minutes: the run is certainly still going when
    # the signal arrives.
    cfg.write_text(f"source: {{plugin: images, params: {{path: '{sample_photos}', repeat: 100000}}}}\n"
                   f"sinks: [{{plugin: jsonl, params: {{path: '{out}'}}}}]\nengine: {{mode: concurrent}}\n")
    # A background job inherits SIGINT ignored (as under nohup or `cmd &`): give the child the
    # default disposition, as a terminal would.
    proc = subprocess.Popen([sys.executable, "-m", "drid.cli", "run", str(cfg)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or len(out.read_bytes()) < 2000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted:" in stdout and "Traceback" not in stderr
    lines = out.read_text().splitlines()
    assert 0 < len(lines) < 200_000
    assert [json.loads(line)["frame"]["index"] for line in lines] == list(range(len(lines)))
    written = int(stdout.split(" written")[0].rsplit(" ", 1)[-1])
    assert written == len(lines)


def test_every_example_the_help_and_the_docs_name_exists(capsys):
    import re

    code, out, _ = cli(capsys, "--help")
    texts = {"drid --help": out}
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        texts[doc.name] = doc.read_text(encoding="utf-8")
    named = {(where, m) for where, text in texts.items() for m in re.findall(r"examples/[\w./-]+\.(?:yaml|py|png|json)", text)}
    assert any(where == "drid --help" for where, _ in named)
    missing = sorted(f"{where}: {path}" for where, path in named if not (ROOT / path).is_file())
    assert not missing, missing


def test_plugins_say_which_parameters_are_paths_read_from_the_config_folder(capsys):
    code, out, _ = cli(capsys, "plugins", "keras-classifier")
    assert code == 0
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()[1:]}
    assert "a path read from the config's folder" in lines["model"] and "a path read from the config's folder" in lines["labels"]
    assert "path" not in lines["top_k"]
    code, out, _ = cli(capsys, "plugins", "--json")
    flagged = {(row["name"], p["name"]) for row in json.loads(out) for p in row["parameters"] if p["input_path"]}
    assert {("keras-classifier", "model"), ("ppo", "policy"), ("dqn", "policy")} <= flagged
    assert not any(plugin == "jsonl" for plugin, _ in flagged)  # outputs stay relative to the working directory
    assert all("Annotated" not in p["type"] for row in json.loads(out) for p in row["parameters"])


def test_a_stop_signal_that_escapes_a_command_exits_128_plus_its_number(capsys, monkeypatch):
    from drid.cli import schema
    from drid.pipeline._signals import Interrupted

    def stopped(args):
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(schema, "cmd_schema", stopped)
    code, _, err = cli(capsys, "schema")
    assert code == 143 and err.strip() == "drid: interrupted (SIGTERM)"

    def ctrl_c(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(schema, "cmd_schema", ctrl_c)
    code, _, err = cli(capsys, "schema")
    assert code == 130 and err.strip() == "drid: interrupted"
