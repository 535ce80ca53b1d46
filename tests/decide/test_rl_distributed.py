"""PPO with its rollouts on Ray actors (a local Ray cluster of 2 CPUs started by the test)."""

from __future__ import annotations

import numpy as np
import pytest

from drid.errors import ConfigError

ray = pytest.importorskip("ray")


@pytest.fixture
def cluster(ray_cluster):
    return ray_cluster


def test_runners_feed_the_learner_and_it_learns(cluster, tmp_path):
    from drid.decide.rl.train import train_policy

    metrics = train_policy("CartPole-v1", "ppo", 24_576, seed=3, eval_every=8_192, eval_episodes=10, out=tmp_path,
                           progress=False, backend="ray", runners=2)
    assert metrics["backend"] == "ray"
    assert metrics["steps"] == 24_576 and metrics["updates"] == 24_576 // (8 * 32)
    episodes = metrics["episodes"]
    assert sum(e["length"] for e in episodes) <= 24_576 and len(episodes) > 50
    # a random CartPole policy averages about 22; this one has clearly learned
    assert metrics["best_eval_mean"] > 150, metrics["evaluations"]
    assert (tmp_path / "best.npz").exists() and (tmp_path / "curve.png").exists()


def test_rollouts_split_the_copies_and_keep_their_seeds(cluster):
    from drid.decide.rl.distributed import RayRollouts
    from drid.decide.rl.envs import EnvBatch
    from drid.decide.rl.train import make_agent

    probe = EnvBatch("CartPole-v1", 1)
    agent = make_agent("ppo", probe, n_envs=5, n_steps=4, batch_size=4)
    probe.close()
    rollouts = RayRollouts("CartPole-v1", agent, 2, seed=7)
    try:
        steps = rollouts.rollout(agent)
    finally:
        rollouts.close()
    assert len(steps) == 4
    obs, actions, extras, nxt, rew, term, trunc, finished = steps[0]
    assert obs.shape == (5, 4) and actions.shape == (5,) and extras["logp"].shape == (5,)
    # copy k of the five was reset with seed 7 + k, as EnvBatch seeds them locally
    local = EnvBatch("CartPole-v1", 5, seed=7)
    np.testing.assert_allclose(obs, local.obs)
    local.close()


def test_dqn_and_bad_runner_counts_are_refused(cluster):
    from drid.decide.rl.distributed import RayRollouts
    from drid.decide.rl.envs import EnvBatch
    from drid.decide.rl.train import make_agent, train_policy

    with pytest.raises(ConfigError, match="dqn learns from every step"):
        train_policy("CartPole-v1", "dqn", 1000, progress=False, backend="ray")
    probe = EnvBatch("CartPole-v1", 1)
    agent = make_agent("ppo", probe, n_envs=2, n_steps=8, batch_size=8)
    probe.close()
    with pytest.raises(ConfigError, match=r"runners must be between 1 and n_envs \(2\), got 3"):
        RayRollouts("CartPole-v1", agent, 3)
