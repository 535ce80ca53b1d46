"""The random, dqn and ppo decide plugins inside pipelines, and the drid train/eval policy CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drid import ConfigError, Pipeline, StageError
from drid.cli import main
from drid.decide.policies import DQNPolicy, PPOPolicy, RandomPolicy
from drid.decide.rl import evaluate, load_agent
from drid.sources.gym import GymSource
from drid.testing import CollectSink


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small PPO policy trained by the CLI (also checks the CLI's outputs)."""
    out = tmp_path_factory.mktemp("cli")
    code = main(["train", "policy", "--env", "CartPole-v1", "--algo", "ppo", "--steps", "12000", "--eval-every", "6000",
                 "--eval-episodes", "5", "--out", str(out), "--no-progress"])
    assert code == 0
    return out


def test_cli_train_writes_everything(trained, capsys):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["steps"] == 12_000 and metrics["algo"] == "ppo" and len(metrics["evaluations"]) == 2
    assert (trained / "curve.png").stat().st_size > 10_000
    assert load_agent(trained / "best.npz").checkpoint_meta["env"] == "CartPole-v1"


def test_cli_eval_reports_mean_and_std(trained, capsys):
    assert main(["eval", "policy", str(trained / "best.npz"), "--episodes", "5"]) == 0
    out = capsys.readouterr().out
    assert "on CartPole-v1: return" in out and "±" in out and "over 5 episodes" in out
    assert main(["eval", "policy", str(trained / "best.npz"), "--episodes", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["returns"]) == 3 and result["mean"] == pytest.approx(np.mean(result["returns"]))


def test_cli_errors_are_one_line(trained, tmp_path, capsys):
    assert main(["train", "policy", "--env", "CartPol-v1", "--steps", "10"]) == 2
    assert "did you mean 'CartPole-v1'" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    assert main(["eval", "policy", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("drid: error: policy checkpoint") and "corrupt" in err and err.count("\n") == 1
    assert main(["eval", "policy", str(trained / "best.npz"), "--env", "Acrobot-v1"]) == 2
    assert "observations of length 4, the environment gives 6" in capsys.readouterr().err
    assert main(["train", "policy", "--env", "Pendulum-v1", "--algo", "dqn", "--steps", "10"]) == 2
    assert "dqn needs a discrete action space" in capsys.readouterr().err


def test_saved_policy_plays_identically_inside_a_pipeline(trained):
    agent = load_agent(trained / "best.npz")
    sink = CollectSink()
    policy = PPOPolicy(policy=str(trained / "best.npz"), learn=False, action_names=["push left", "push right"])
    Pipeline(source=GymSource(env="CartPole-v1", seed=5, episodes=None, steps=200), decide=policy, sinks=[sink]).run()
    obs = np.stack([r.frame.observation for r in sink.records])
    assert [r.decision.action for r in sink.records] == agent.act(obs, deterministic=True)[0].tolist()
    assert sink.records[0].decision.rationale.startswith("ppo: push ")
    assert 0.5 <= sink.records[0].decision.confidence <= 1.0


def test_policy_that_does_not_fit_the_environment_is_refused(trained):
    with pytest.raises(ConfigError, match="observations of length 4, the environment gives 6"):
        Pipeline(source=GymSource(env="Acrobot-v1", episodes=1), decide=PPOPolicy(policy=str(trained / "best.npz"), env="Acrobot-v1", learn=False)).run()
    with pytest.raises(StageError, match="expects observations of length 4"):
        Pipeline(source=GymSource(env="Acrobot-v1", episodes=1), decide=PPOPolicy(policy=str(trained / "best.npz"), learn=False)).run()
    with pytest.raises(ConfigError, match="'policy'.*or 'env'"):
        Pipeline(source=("gym", {"env": "CartPole-v1"}), decide=("ppo", {}))


def test_ppo_plugin_learns_in_a_closed_loop_pipeline():
    rng = np.random.default_rng(0)
    random_mean = evaluate(lambda o: rng.integers(0, 2, len(o)), "CartPole-v1", 20).mean()
    policy = PPOPolicy(env="CartPole-v1", num_envs=4, hyper={"n_steps": 64, "total_steps": 10_240, "seed": 1})
    source = GymSource(env="CartPole-v1", seed=1, num_envs=4, episodes=None, steps=10_240)
    summary = Pipeline(source=source, decide=policy).run()
    assert summary.frames_out == 10_240 and policy.agent.steps == 10_240
    assert policy.agent.updates == 10_240 // (4 * 64)
    greedy = evaluate(lambda o: policy.agent.act(o, True)[0], "CartPole-v1", 20).mean()
    first = np.mean([e["return"] for e in source.episodes[:20]])
    last = np.mean([e["return"] for e in source.episodes[-20:]])
    assert last > 2 * first and greedy > 3 * random_mean, (first, last, greedy, random_mean)


def test_dqn_plugin_fills_its_replay_buffer_and_trains(tmp_path):
    policy = DQNPolicy(env="CartPole-v1", hyper={"learning_starts": 300, "train_freq": 200, "gradient_steps": 8, "total_steps": 1000},
                       save=str(tmp_path / "dqn.npz"))
    summary = Pipeline(source=GymSource(env="CartPole-v1", seed=0, episodes=None, steps=1000), decide=policy).run()
    agent = policy.agent
    assert agent.replay.size == 1000 and agent.steps == 1000
    assert agent.updates == 8 * 4  # bursts at 400, 600, 800, 1000 steps
    assert any("policy saved" in n for n in summary.notes)
    again = load_agent(tmp_path / "dqn.npz")
    obs = np.random.default_rng(0).normal(size=(50, 4))
    np.testing.assert_array_equal(again.q_values(obs), agent.q_values(obs))


@pytest.mark.parametrize(
    ("cls", "name", "params", "path"),
    [
        (RandomPolicy, "random", {}, "params"),
        (RandomPolicy, "random", {"actions": [0, 1], "seed": "x"}, "params.seed"),
        (DQNPolicy, "dqn", {"env": "CartPole-v1", "num_envs": 0}, "params.num_envs"),
        (PPOPolicy, "ppo", {"env": "CartPole-v1", "observation": "pixels"}, "params.observation"),
    ],
)
def test_policies_built_in_python_are_checked_like_ones_from_a_config(cls, name, params, path):
    with pytest.raises(ConfigError) as in_python:
        cls(**params)
    with pytest.raises(ConfigError) as in_config:
        Pipeline(source=("gym", {"env": "CartPole-v1"}), decide=(name, params))
    assert in_python.value.message == in_config.value.message
    assert (in_python.value.path, in_config.value.path) == (path, path.replace("params", "decide.params", 1))


def test_mid_run_mistakes_are_plain_errors_attributed_by_the_engine():
    source = GymSource(env="CartPole-v1", num_envs=2, episodes=None, steps=8)
    with pytest.raises(StageError, match=r"ValueError: transition from env copy 1, but num_envs is 1") as caught:
        Pipeline(source=source, decide=DQNPolicy(env="CartPole-v1")).run()
    assert not isinstance(caught.value, ConfigError)


def test_random_policy():
    sink = CollectSink()
    Pipeline(source=GymSource(env="CartPole-v1", episodes=3), decide=RandomPolicy(env="CartPole-v1", seed=1), sinks=[sink]).run()
    actions = [r.decision.action for r in sink.records]
    assert set(actions) == {0, 1} and 0.3 < np.mean(actions) < 0.7
    named = RandomPolicy(actions=["GO", "STOP"])
    named.drid_start(None)
    assert {named.drid_decide(None, None).action for _ in range(30)} == {"GO", "STOP"}
    with pytest.raises(ConfigError, match="exactly one of 'env'"):
        Pipeline(source=("gym", {"env": "CartPole-v1"}), decide=("random", {}))
