"""`drid train …` / `drid eval …` come from the 'drid.cli' entry-point group: a third party adds
one by declaring an entry point, and a broken one does not break the command."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from conftest import cli

from drid.cli import _commands

WIDGET = textwrap.dedent('''
    def register(subparsers):
        p = subparsers.add_parser("widget", help="train a widget (third party)")
        p.add_argument("--size", type=int, default=3)
        p.set_defaults(handler=lambda args: print(f"widget of size {args.size}") or 7)

    def explode(subparsers):
        raise RuntimeError("widget plugin is broken\\nsecond line")
''')


@pytest.fixture
def widget_module(tmp_path, monkeypatch):
    (tmp_path / "drid_widget_cli.py").write_text(WIDGET)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "drid_widget_cli"
    sys.modules.pop("drid_widget_cli", None)


def with_entry_points(monkeypatch, *extra: EntryPoint) -> None:
    installed = _commands.command_entry_points()
    monkeypatch.setattr(_commands, "command_entry_points", lambda: sorted([*installed, *extra], key=lambda ep: ep.name))


def test_the_builtin_commands_are_entry_points():
    names = {ep.name: ep.value for ep in _commands.command_entry_points()}
    builtin = {
        "train.classifier": "drid.cli.train_classifier:register",
        "train.policy": "drid.cli.train_policy:register",
        "eval.detector": "drid.cli.eval_detector:register",
        "eval.policy": "drid.cli.eval_policy:register",
    }
    assert builtin.items() <= names.items()
    # every command drid itself registers is one of its own modules
    own = [ep.value for ep in _commands.command_entry_points() if ep.dist is not None and ep.dist.name == "drid"]
    assert own and all(value.startswith("drid.cli.") and value.endswith(":register") for value in own)


def test_a_third_party_entry_point_adds_drid_train_widget(capsys, monkeypatch, widget_module):
    with_entry_points(monkeypatch, EntryPoint("train.widget", f"{widget_module}:register", _commands.COMMAND_GROUP))
    code, out, err = cli(capsys, "train", "--help")
    assert code == 0 and err == ""
    assert "widget" in out and "train a widget (third party)" in out
    assert "classifier" in out and "policy" in out
    code, out, err = cli(capsys, "train", "widget", "--size", "5")
    assert code == 7 and out == "widget of size 5\n" and err == ""


@pytest.mark.parametrize(
    "name, value, reason",
    [
        ("train.widget", "{module}:explode", "RuntimeError: widget plugin is broken"),
        ("train.gadget", "no_such_module_anywhere:register", "ModuleNotFoundError: No module named 'no_such_module_anywhere'"),
        ("export.widget", "{module}:register", "ValueError: entry-point names are VERB.WHAT with VERB one of train, eval"),
        ("train", "{module}:register", "ValueError: entry-point names are VERB.WHAT"),
    ],
)
def test_a_broken_entry_point_is_a_warning_not_a_failure(capsys, monkeypatch, widget_module, name, value, reason):
    with_entry_points(monkeypatch, EntryPoint(name, value.format(module=widget_module), _commands.COMMAND_GROUP))
    code, out, err = cli(capsys, "schema", "Frame")
    assert code == 0 and '"title": "Frame"' in out
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"drid: warning: skipped command '{name.replace('.', ' ', 1)}' ({value.format(module=widget_module)}): ")
    assert reason in lines[0]
    code, out, _ = cli(capsys, "train", "--help")
    assert code == 0 and "classifier" in out and "policy" in out


def test_a_second_command_of_one_name_is_skipped_with_a_warning(capsys, monkeypatch, widget_module):
    with_entry_points(monkeypatch, EntryPoint("train.policy", f"{widget_module}:register", _commands.COMMAND_GROUP),
                      EntryPoint("train.policy", f"{widget_module}:register", _commands.COMMAND_GROUP))
    code, out, err = cli(capsys, "train", "widget")
    assert code == 7 and out == "widget of size 3\n"
    assert err.count("drid: warning: skipped command 'train policy'") == 1


def test_python_dash_m_drid_cli_is_the_drid_command():
    proc = subprocess.run([sys.executable, "-m", "drid.cli", "eval", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: drid eval" in proc.stdout and "detector" in proc.stdout and "policy" in proc.stdout


def test_bundled_ground_truth_names_resolve_for_detectors_and_trackers(tmp_path, monkeypatch):
    from drid.cli._args import bundled_groundtruth_names, groundtruth_path
    from drid.errors import ConfigError

    assert {"packaged", "shared", "faces-video"} <= set(bundled_groundtruth_names())
    assert not any(n.startswith("tracks-") for n in bundled_groundtruth_names())
    assert {"packaged", "shared"} <= set(bundled_groundtruth_names(tracks=True))
    (tmp_path / "packaged").mkdir()  # a folder of that name beside the user does not shadow the bundled file
    monkeypatch.chdir(tmp_path)
    assert groundtruth_path("faces-video").name == "faces-video.json" and groundtruth_path("faces-video").is_file()
    assert groundtruth_path("packaged").name == "packaged.json"
    assert groundtruth_path("packaged", tracks=True).name == "tracks-packaged.json"
    assert groundtruth_path("mine/truth.json") == Path("mine/truth.json")  # a path is a path
    with pytest.raises(ConfigError, match=r"groundtruth: no ground-truth file 'facesvideo' and no bundled one of that name \(bundled: faces-video"):
        groundtruth_path("facesvideo")
