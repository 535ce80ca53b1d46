"""DQN and PPO (TensorFlow) on real gymnasium environments: they learn, beat the random policy
clearly within a short budget, save and reload to identical actions, resume, and refuse a
corrupt checkpoint with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from drid.decide.rl import CheckpointError, DQNAgent, EnvBatch, PPOAgent, evaluate, load_agent
from drid.decide.rl.train import train_policy

ENV = "CartPole-v1"


@pytest.fixture(scope="module")
def random_return() -> float:
    rng = np.random.default_rng(0)
    return float(evaluate(lambda o: rng.integers(0, 2, len(o)), ENV, 50).mean())


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ppo")
    return train_policy(ENV, "ppo", 20_000, seed=0, eval_every=10_000, eval_episodes=10, out=out, progress=False), out


@pytest.fixture(scope="module")
def dqn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dqn")
    hyper = {"total_steps": 10_000, "learning_starts": 500, "train_freq": 128, "gradient_steps": 64}
    return train_policy(ENV, "dqn", 12_000, seed=0, hyper=hyper, eval_every=6_000, eval_episodes=10, out=out, progress=False), out


def test_random_baseline_is_poor(random_return):
    assert 10 < random_return < 40  # CartPole's well-known ~22 for uniform random actions


def test_ppo_clearly_beats_random(ppo_run, random_return):
    metrics, out = ppo_run
    best = load_agent(out / "best.npz")
    greedy = evaluate(lambda o: best.act(o, True)[0], ENV, 20, seed=123)
    assert metrics["steps"] == 20_000
    assert greedy.mean() > 5 * random_return, (greedy.mean(), random_return)
    assert metrics["best_eval_mean"] > 5 * random_return


def test_dqn_clearly_beats_random(dqn_run, random_return):
    metrics, out = dqn_run
    best = load_agent(out / "best.npz")
    greedy = evaluate(lambda o: best.act(o, True)[0], ENV, 20, seed=123)
    assert metrics["steps"] == 12_000
    assert greedy.mean() > 3 * random_return, (greedy.mean(), random_return)


def test_training_writes_checkpoints_metrics_and_curve(ppo_run):
    metrics, out = ppo_run
    for name in ("best.npz", "last.npz", "metrics.json", "curve.png"):
        assert (out / name).stat().st_size > 0
    assert [e["step"] for e in metrics["evaluations"]] == [10_000, 20_000]
    assert metrics["episodes"] and all(e["return"] >= 1 for e in metrics["episodes"])
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("run", ["ppo_run", "dqn_run"])
def test_saved_policy_reloads_to_identical_actions(run, request, tmp_path):
    metrics, _ = request.getfixturevalue(run)
    agent = metrics["agent"]
    obs = np.random.default_rng(1).normal(0, 0.5, (200, 4))
    path = agent.save(tmp_path / "policy.npz")
    again = load_agent(path)
    assert type(again) is type(agent) and again.steps == agent.steps
    np.testing.assert_array_equal(again.act(obs, True)[0], agent.act(obs, True)[0])
    if isinstance(agent, DQNAgent):
        np.testing.assert_array_equal(again.q_values(obs), agent.q_values(obs))
    else:
        np.testing.assert_array_equal(again.pi.numpy_forward(obs), agent.pi.numpy_forward(obs))


def test_dqn_resumes_with_its_replay_buffer_and_optimiser(dqn_run):
    metrics, out = dqn_run
    agent = load_agent(out / "last.npz")
    trained = metrics["agent"]
    assert agent.steps == trained.steps == 12_000
    assert agent.replay.size == trained.replay.size == 12_000
    np.testing.assert_array_equal(agent.replay.obs[:100], trained.replay.obs[:100])
    assert int(agent.optimizer.iterations.numpy()) == int(trained.optimizer.iterations.numpy()) > 0
    assert agent.epsilon() == pytest.approx(trained.epsilon())
    more = train_policy(ENV, resume=out / "last.npz", steps=512, eval_every=10_000, eval_episodes=2, progress=False)
    assert more["steps"] == 12_512 and more["agent"].updates > trained.updates


def test_corrupt_checkpoint_is_refused_clearly(ppo_run, tmp_path):
    _, out = ppo_run
    good = (out / "best.npz").read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="truncated.npz' is corrupt or not a drid policy"):
        load_agent(truncated)
    flipped = bytearray(good)
    middle = len(flipped) // 2
    flipped[middle : middle + 64] = bytes(b ^ 0xFF for b in flipped[middle : middle + 64])
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="damaged.npz' is corrupt"):
        load_agent(damaged)
    text = tmp_path / "notes.npz"
    text.write_text("not a policy")
    with pytest.raises(CheckpointError, match="corrupt or not a drid policy"):
        load_agent(text)
    with pytest.raises(CheckpointError, match="not found"):
        load_agent(tmp_path / "missing.npz")


def test_ppo_continuous_actions_on_pendulum(tmp_path):
    envs = EnvBatch("Pendulum-v1", 2, seed=0)
    agent = PPOAgent.for_env(envs, n_envs=2, n_steps=64, batch_size=64, n_epochs=2, normalize_obs=True, normalize_reward=True, seed=0)
    assert agent.continuous and agent.action.dim == 1
    updates = []
    while agent.steps < 256:
        obs = envs.obs.copy()
        actions, extras = agent.act(obs)
        assert actions.shape == (2, 1) and np.all(np.abs(actions) <= 2.0)
        nxt, rew, term, trunc, _ = envs.step(actions)
        stats = agent.observe(obs, actions, rew, nxt, term, trunc, extras)
        if stats:
            updates.append(stats)
    assert len(updates) == 2 and all(np.isfinite(list(s.values())).all() for s in updates)
    assert agent.norm is not None and agent.norm.count > 256
    again = load_agent(agent.save(tmp_path / "pendulum.npz"))
    obs = np.random.default_rng(0).normal(size=(10, 3))
    np.testing.assert_array_equal(again.act(obs, True)[0], agent.act(obs, True)[0])
    np.testing.assert_array_equal(np.asarray(again.log_std), np.asarray(agent.log_std))
    assert agent.reward_norm.count > 256 and again.reward_norm.var == pytest.approx(agent.reward_norm.var)
    np.testing.assert_array_equal(again.norm.mean, agent.norm.mean)
