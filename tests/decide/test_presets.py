"""Shipped per-environment presets (issue 15, part 2) and evaluation users can trust (part 3):
`drid train policy --env ENV` trains with tuned hyperparameters, checkpoints carry what
evaluation needs, `drid eval policy` reports mean ± std over fixed seeds and the success rate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

from drid.decide.rl import evaluate
from drid.decide.rl.common import read_checkpoint
from drid.decide.rl.presets import env_presets, load_presets, resolve, reward_threshold
from drid.decide.rl.train import evaluate_policy, train_policy
from drid.errors import ConfigError

BUNDLED = Path(__file__).resolve().parents[2] / "drid" / "decide" / "models" / "cartpole-ppo.npz"
ISSUE_ENVS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "Pendulum-v1", "LunarLander-v3", "LunarLanderContinuous-v3", "CarRacing-v3"]


def test_every_environment_of_the_issue_has_a_checked_preset():
    presets = load_presets()
    assert set(ISSUE_ENVS) <= set(presets)
    for env_id in ISSUE_ENVS:
        p = presets[env_id]
        assert p.threshold is not None, env_id
        for algo in ("ppo", "dqn"):
            entry = p.algo(algo)
            if entry is not None and entry.status != "unmeasured":
                # a measured (or failing) preset says what came out, with a number
                assert entry.result and re.search(r"-?\d", entry.result), (env_id, algo)


def test_mountaincar_defaults_to_dqn_and_says_why_not_ppo():
    r = resolve("MountainCar-v0", None, None)
    assert r.algo == "dqn" and r.preset == "MountainCar-v0/dqn" and r.steps == 120_000
    assert "PPO is the wrong tool" in (r.note or "")
    assert resolve("MountainCar-v0", "ppo", None).preset == "MountainCar-v0/ppo"


def test_user_values_override_the_preset_in_order():
    base = env_presets("Pendulum-v1")
    assert base is not None and base.ppo is not None
    r = resolve("Pendulum-v1", "ppo", None, {"learning_rate": 3e-4}, n_envs=2)
    assert r.hyper == {**base.ppo.hyper, "learning_rate": 3e-4, "n_envs": 2}
    assert r.steps == base.ppo.steps
    assert resolve("Pendulum-v1", "ppo", 5000).steps == 5000
    # --hp wins over --n-envs (the CLI refuses the two when they disagree)
    assert resolve("Pendulum-v1", "ppo", None, {"n_envs": 3}, n_envs=2).hyper["n_envs"] == 3
    plain = resolve("Pendulum-v1", "ppo", None, preset="none")
    assert plain.preset is None and plain.hyper == {} and plain.steps == 100_000
    # an environment without a preset: the agents' defaults
    assert resolve("MountainCarContinuous-v0", None, None).hyper == {}


@pytest.mark.parametrize(
    "text, message",
    [
        ("Foo-v0:\n  ppo: {status: measured, steps: 10, hyper: {}}\n", "Foo-v0: ppo: Value error, a measured preset needs the measured result"),
        ("Foo-v0:\n  ppo: {status: unmeasured, steps: 10, hyper: {learning_rat: 0.1}}\n", "Foo-v0.ppo.hyper: learning_rat"),
        ("Foo-v0:\n  default_algo: dqn\n  ppo: {status: unmeasured, steps: 10}\n", "default_algo is dqn, which has no preset"),
        ("Foo-v0:\n  ppo: {status: unmeasured, steps: 10, hyper: {gamma: 2}}\n", "Foo-v0.ppo.hyper: gamma"),
        ("- a\n- b\n", "expected a mapping of environment ids"),
    ],
)
def test_a_bad_presets_file_is_refused_naming_environment_and_key(text, message):
    with pytest.raises(ConfigError) as info:
        load_presets(text, where="my-presets.yaml")
    assert str(info.value).startswith("my-presets.yaml: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_thresholds_come_from_the_preset_then_gymnasium():
    assert reward_threshold("CartPole-v1") == (475.0, "gymnasium's reward_threshold")
    value, source = reward_threshold("Pendulum-v1")
    assert value == -200.0 and source.startswith("drid")
    assert reward_threshold("MountainCarContinuous-v0") == (90.0, "gymnasium's reward_threshold")
    # wrappers listed as aliases share the presets of the environment they wrap
    assert reward_threshold("drid.sources.cartpole:CartPoleFrames-v1")[0] == 475.0
    assert env_presets("drid.sources.driving:CarRacingDriverState-v0") is env_presets("CarRacing-v3")
    assert env_presets("NoSuchEnv-v0") is None


def test_the_list_of_presets_shows_status_and_zoo_reference(capsys):
    code, out, _ = cli(capsys, "train", "policy", "--list-presets")
    assert code == 0
    assert "MountainCar-v0 (success: return >= -110; default algorithm dqn)" in out
    assert re.search(r"ppo: unmeasured, 4,000,000 steps; RL Zoo 153.9 @ 4,000,000", out)


def test_checkpoints_carry_what_evaluation_needs_and_eval_needs_no_flags(capsys, tmp_path):
    # a short run with the CartPole preset (budget cut to two rollouts)
    code, out, err = cli(capsys, "train", "policy", "--env", "CartPole-v1", "--steps", "512", "--eval-every", "256",
                         "--eval-episodes", "2", "--out", str(tmp_path), "--no-progress")
    assert code == 0, err
    assert out.startswith("preset CartPole-v1/ppo (512 steps; ")
    meta, _ = read_checkpoint(tmp_path / "best.npz")
    assert meta["env"] == "CartPole-v1" and meta["preset"] == "CartPole-v1/ppo"
    assert meta["reward_threshold"] == 475.0 and meta["drid_version"]
    assert meta["config"]["n_steps"] == 32 and meta["config"]["n_epochs"] == 20  # the preset's values
    code, out, err = cli(capsys, "eval", "policy", str(tmp_path / "best.npz"), "--episodes", "5")
    assert code == 0, err
    assert "on CartPole-v1: return " in out and "over 5 episodes (seeds 10000..10004" in out
    assert re.search(r"success rate \d+ % \(episodes with return >= 475, gymnasium's reward_threshold\)", out)
    assert "with preset CartPole-v1/ppo, drid " in out


def test_success_rate_counts_episodes_at_or_above_the_threshold():
    # the bundled policy (trained from pixels, old checkpoint without drid_version) on the true state
    r = evaluate_policy(BUNDLED, "CartPole-v1", episodes=10, threshold=None)
    assert r["threshold"] == 475.0 and r["drid_version"] is None and r["preset"] is None
    returns = np.array(r["returns"])
    assert r["success_rate"] == pytest.approx(float((returns >= 475).mean()))
    assert r["solved"] == (returns.mean() >= 475)
    # a threshold above the best episode: no success
    high = evaluate_policy(BUNDLED, "CartPole-v1", episodes=10, threshold=float(returns.max()) + 1)
    assert high["success_rate"] == 0.0 and high["solved"] is False and high["threshold_source"] == "given"
    # the same fixed seeds give the same returns
    assert evaluate_policy(BUNDLED, "CartPole-v1", episodes=10)["returns"] == r["returns"]


def test_normalisation_statistics_travel_with_the_checkpoint(tmp_path):
    # Pendulum's observations are far from unit scale: with normalize_obs, acting depends on the
    # running statistics, which evaluation must restore from the file.
    m = train_policy("Pendulum-v1", "ppo", 1024, hyper={"n_envs": 2, "n_steps": 256, "batch_size": 128, "normalize_obs": True},
                     eval_every=10**6, eval_episodes=1, out=tmp_path, progress=False)
    agent = m["agent"]
    _, arrays = read_checkpoint(tmp_path / "last.npz")
    np.testing.assert_allclose(arrays["norm/mean"], agent.norm.mean)
    assert float(arrays["norm/count"]) > 1000
    direct = evaluate(lambda o: agent.act(o, deterministic=True)[0], "Pendulum-v1", 3, seed=10_000)
    assert evaluate_policy(tmp_path / "last.npz", episodes=3)["returns"] == pytest.approx(direct.tolist())


def test_a_short_run_with_the_acrobot_preset_clearly_beats_random(tmp_path):
    """Acrobot-v1 with the shipped PPO preset, 20,000 steps: the random policy scores -500 (it
    never swings up within the 500-step limit); the trained one must reach the threshold's half."""
    m = train_policy("Acrobot-v1", None, 20_000, eval_every=10**6, eval_episodes=10, out=None, progress=False, preset="auto")
    assert m["preset"] == "Acrobot-v1/ppo"
    rng = np.random.default_rng(0)
    random_return = evaluate(lambda o: rng.integers(0, 3, len(o)), "Acrobot-v1", 10).mean()
    assert random_return == -500.0
    assert m["evaluations"][-1]["mean"] > -200.0


def test_the_benchmark_suite_covers_every_environment_of_the_issue(monkeypatch):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("rl_suite", Path(__file__).resolve().parents[2] / "benchmarks" / "rl_suite.py")
    assert spec is not None and spec.loader is not None
    suite = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "rl_suite", suite)  # dataclasses look their module up there
    spec.loader.exec_module(suite)
    cells = suite.suite_cells()
    assert {c.env for c in cells} == set(ISSUE_ENVS)
    assert [c.zoo_steps for c in cells] == sorted(c.zoo_steps for c in cells)  # cheapest first
    mc = next(c for c in cells if c.name == "MountainCar-v0/dqn")
    assert (mc.zoo_return, mc.zoo_steps) == (-100.8, 120_000)
    r = {"cell": mc.name, "seed": 0, "budget": 120_000, "steps_to_threshold": None, "threshold": -110.0, "seconds_to_threshold": None,
         "best_checkpoint_steps": 110_000, "eval_mean": -105.0, "eval_std": 1.8, "success_rate": 1.0, "zoo_return": -100.8,
         "zoo_steps": 120_000, "as_good_as_zoo": False}
    assert suite.row(r) == ("| MountainCar-v0/dqn | 0 | 120,000 | not reached (-110) | - | 110,000 | -105.0 ± 1.8 | 100 % | "
                            "-100.8 @ 120,000 | no |")


def test_eval_cli_json_and_a_given_threshold(capsys):
    code, out, err = cli(capsys, "eval", "policy", str(BUNDLED), "--env", "CartPole-v1", "--episodes", "3", "--threshold", "1000", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert (r["threshold"], r["threshold_source"], r["success_rate"], r["solved"]) == (1000.0, "given", 0.0, False)
    assert len(r["returns"]) == 3 and r["seed"] == 10_000


def test_train_cli_without_env_or_with_an_unknown_one_is_one_clear_line(capsys):
    code, out, err = cli(capsys, "train", "policy")
    assert code == 2 and out == ""
    assert err.strip() == "drid: error: --env: --env is required (a gymnasium id such as CartPole-v1; --list-presets shows the tuned ones)"
    code, out, err = cli(capsys, "train", "policy", "--env", "Pendulm-v1", "--steps", "10")
    assert code == 2 and out == "" and "unknown gymnasium environment 'Pendulm-v1' (did you mean 'Pendulum-v1'" in err
