"""`drid train policy` as a user meets it off a terminal (issue 13, item 13): plain progress lines
in logs, and contradicting options refused instead of resolved silently."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import cli

POLICY = Path(__file__).resolve().parents[2] / "drid" / "decide" / "models" / "cartpole-ppo.npz"


def test_off_a_terminal_training_writes_one_plain_line_per_evaluation(capsys, tmp_path):
    code, out, err = cli(capsys, "train", "policy", "--env", "CartPole-v1", "--algo", "ppo", "--steps", "768", "--eval-every", "256",
                         "--eval-episodes", "2", "--hp", "n_envs=4", "--hp", "n_steps=64", "--hp", "batch_size=64", "--out", str(tmp_path))
    assert code == 0, err
    lines = err.strip().splitlines()
    assert [int(m.group(1)) for m in (re.search(r"step (\d+)/768", line) for line in lines) if m] == [256, 512, 768]
    assert all(line.startswith("ppo CartPole-v1: step ") and "evaluation" in line for line in lines)
    assert "\r" not in err and "it/s" not in err  # no progress bar redrawn into the log
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["step"] for e in metrics["evaluations"]] == [256, 512, 768]
    assert "wrote" in out


def test_no_progress_means_no_lines_either(capsys, tmp_path):
    code, _, err = cli(capsys, "train", "policy", "--env", "CartPole-v1", "--steps", "256", "--eval-every", "256", "--eval-episodes", "1",
                       "--hp", "n_envs=4", "--hp", "n_steps=64", "--hp", "batch_size=64", "--out", str(tmp_path), "--no-progress")
    assert code == 0 and err == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hp", "n_envs=4", "--n-envs", "8"], "drid: error: --n-envs: --n-envs 8 and --hp n_envs=4 disagree: give one"),
        (["--resume", str(POLICY), "--algo", "dqn"],
         f"drid: error: --algo: --algo dqn, but the --resume checkpoint '{POLICY}' is a ppo policy (drop --algo, or start a fresh dqn run without --resume)"),
        (["--resume", str(POLICY), "--n-envs", "2"], "drid: error: --n-envs: the --resume checkpoint steps 8 environments; it cannot resume with 2"),
    ],
)
def test_contradicting_options_are_refused(capsys, tmp_path, args, message):
    code, _, err = cli(capsys, "train", "policy", "--env", "CartPole-v1", "--steps", "10", "--out", str(tmp_path), *args)
    assert code == 2 and err.strip() == message
    assert not (tmp_path / "last.npz").exists()


def test_the_same_value_twice_is_no_contradiction(capsys, tmp_path):
    code, _, err = cli(capsys, "train", "policy", "--env", "CartPole-v1", "--steps", "128", "--eval-every", "128", "--eval-episodes", "1",
                       "--n-envs", "4", "--hp", "n_envs=4", "--hp", "n_steps=32", "--hp", "batch_size=64", "--out", str(tmp_path), "--no-progress")
    assert code == 0, err
    assert json.loads((tmp_path / "metrics.json").read_text())["config"]["n_envs"] == 4
