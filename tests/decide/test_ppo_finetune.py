"""PPO's options for fine-tuning a policy learnt otherwise (drid.decide.rl.ppo): the value
warm-up fits the critic alone, the policy's step can be a share of the critic's, the noise and the
observation statistics can be kept, a KL term holds the policy near where it started (also across
a checkpoint) — and a policy cloned from a controller keeps its return when fine-tuned with them."""

from __future__ import annotations

import numpy as np

from drid.decide.rl import EnvBatch, PPOAgent, evaluate, load_agent


def _rollouts(agent: PPOAgent, envs: EnvBatch, updates: int) -> list[dict[str, float]]:
    """Act and learn until the agent has updated ``updates`` more times; each update's statistics."""
    stats: list[dict[str, float]] = []
    while len(stats) < updates:
        obs = envs.obs.copy()
        actions, extras = agent.act(obs)
        nxt, rew, term, trunc, _ = envs.step(actions)
        out = agent.observe(obs, actions, rew, nxt, term, trunc, extras)
        if out:
            stats.append(out)
    return stats


def _pendulum(**hyper: object) -> tuple[PPOAgent, EnvBatch]:
    envs = EnvBatch("Pendulum-v1", 2, seed=5)
    agent = PPOAgent.for_env(envs, n_envs=2, n_steps=200, batch_size=100, n_epochs=5, gamma=0.9, learning_rate=3e-3, anneal=False, seed=3, **hyper)
    assert isinstance(agent, PPOAgent)
    return agent, envs


def _weights(net: object) -> list[np.ndarray]:
    return [w.copy() for w in net.weights()]  # type: ignore[attr-defined]


def test_the_value_warmup_fits_the_critic_alone_then_the_policy_learns() -> None:
    agent, envs = _pendulum(value_warmup=3, normalize_obs=True)
    # a fixed batch: one episode of the untrained policy with its discounted returns (200 steps, gamma 0.9)
    probe = EnvBatch("Pendulum-v1", 1, seed=11)
    obs, rewards = [], []
    for _ in range(200):
        obs.append(probe.obs[0].copy())
        rewards.append(probe.step(agent.act(probe.obs, deterministic=True)[0])[1][0])
    probe.close()
    returns = np.zeros(200)
    for t in range(199, -1, -1):
        returns[t] = rewards[t] + (0.9 * returns[t + 1] if t < 199 else 0.0)
    batch = np.array(obs)

    def value_loss() -> float:
        return float(np.mean((agent.values(batch) - returns) ** 2))

    pi0, std0, loss0 = _weights(agent.pi), np.asarray(agent.log_std).copy(), value_loss()
    warm = _rollouts(agent, envs, 3)
    assert [s["value_warmup"] for s in warm] == [1.0, 1.0, 1.0]
    assert all(np.array_equal(a, b) for a, b in zip(pi0, agent.pi.weights(), strict=True)), "the warm-up changed the policy"
    assert np.array_equal(std0, np.asarray(agent.log_std))
    assert value_loss() < 0.8 * loss0, (loss0, value_loss())
    after = _rollouts(agent, envs, 1)
    assert after[0]["value_warmup"] == 0.0
    assert not all(np.array_equal(a, b) for a, b in zip(pi0, agent.pi.weights(), strict=True)), "the policy never learnt after the warm-up"
    envs.close()


def _one_update(scale: float) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    envs = EnvBatch("Pendulum-v1", 2, seed=5)
    agent = PPOAgent.for_env(envs, n_envs=2, n_steps=100, batch_size=200, n_epochs=1, anneal=False, seed=3, policy_lr_scale=scale)
    assert isinstance(agent, PPOAgent)
    pi0, vf0 = _weights(agent.pi), _weights(agent.vf)
    _rollouts(agent, envs, 1)
    envs.close()
    return pi0, _weights(agent.pi), vf0, _weights(agent.vf)


def test_the_policy_steps_at_a_share_of_the_learning_rate() -> None:
    # one minibatch, one epoch: Adam's first step from the same gradients, the policy's a tenth as long
    pi0, pi_full, vf0, vf_full = _one_update(1.0)
    _, pi_small, _, vf_small = _one_update(0.1)
    for w0, full, small in zip(pi0, pi_full, pi_small, strict=True):
        assert np.abs(full - w0).max() > 0
        np.testing.assert_allclose(small - w0, 0.1 * (full - w0), rtol=1e-3, atol=1e-7)
    for full, small in zip(vf_full, vf_small, strict=True):  # the value network's step is the same
        np.testing.assert_allclose(small, full, rtol=1e-5, atol=1e-7)


def test_kept_noise_and_observation_statistics() -> None:
    agent, envs = _pendulum(learn_log_std=False, normalize_obs=True, update_obs_norm=False, log_std_init=-1.0)
    assert agent.norm is not None
    mean0, std0 = agent.norm.mean.copy(), np.asarray(agent.log_std).copy()
    _rollouts(agent, envs, 2)
    assert np.array_equal(agent.norm.mean, mean0) and np.array_equal(np.asarray(agent.log_std), std0)
    free, envs2 = _pendulum(normalize_obs=True, log_std_init=-1.0)  # the defaults learn both
    _rollouts(free, envs2, 2)
    assert free.norm is not None and not np.array_equal(free.norm.mean, mean0) and not np.array_equal(np.asarray(free.log_std), std0)
    envs.close()
    envs2.close()


def _drift(bc_coef: float, tmp_path: object = None) -> tuple[float, PPOAgent]:
    agent, envs = _pendulum(bc_coef=bc_coef)
    probe = np.random.default_rng(0).uniform(-1, 1, (256, 3))
    start = agent.act(probe, deterministic=True)[0]
    _rollouts(agent, envs, 3)
    envs.close()
    return float(np.abs(agent.act(probe, deterministic=True)[0] - start).mean()), agent


def test_the_kl_to_the_start_holds_the_policy_near_it_and_survives_a_checkpoint(tmp_path) -> None:
    free, _ = _drift(0.0)
    held, agent = _drift(10.0)
    assert held < 0.5 * free, (held, free)
    assert agent.anchor is not None and agent.anchor_step == 400  # taken at the first update, after one rollout (2 x 200 steps)
    assert 0 < agent.bc_weight() == 10.0
    path = agent.save(tmp_path / "ft.npz")
    back = load_agent(path)
    assert isinstance(back, PPOAgent) and back.anchor is not None and back.anchor_step == 400
    for a, b in zip(agent.anchor.weights(), back.anchor.weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    decaying = load_agent(path, bc_decay_steps=1000)
    assert isinstance(decaying, PPOAgent)
    assert decaying.bc_weight() == 10.0 * (1 - (decaying.steps - 400) / 1000)


def _expert(obs: np.ndarray) -> np.ndarray:
    return (3 * obs[:, 2] + obs[:, 3] + 0.1 * obs[:, 1] + 0.01 * obs[:, 0] > 0).astype(int)


def test_a_cloned_policy_keeps_its_return_when_fine_tuned_with_the_warmup() -> None:
    import keras
    import tensorflow as tf

    envs = EnvBatch("CartPole-v1", 4, seed=0)
    agent = PPOAgent.for_env(envs, n_envs=4, n_steps=128, n_epochs=10, learning_rate=1e-3, seed=0, value_warmup=4, policy_lr_scale=0.1, clip_range=0.1)
    assert isinstance(agent, PPOAgent)
    # clone the controller: its states (with some random actions among them, so they include recoveries)
    rng = np.random.default_rng(0)
    states, labels = [], []
    for _ in range(500):
        obs = envs.obs.copy()
        wanted = _expert(obs)
        states.append(obs)
        labels.append(wanted)
        envs.step(np.where(rng.random(4) < 0.2, rng.integers(0, 2, 4), wanted))
    x, y = np.concatenate(states).astype(np.float32), np.concatenate(labels)
    model = agent.pi.model
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tf.keras.utils.set_random_seed(0)
    model.fit(x, y, batch_size=128, epochs=30, verbose=0)
    agent.pi.changed()
    cloned = evaluate(lambda o: agent.act(o, deterministic=True)[0], "CartPole-v1", 10, seed=100).mean()
    assert cloned > 400, cloned
    stats = _rollouts(agent, envs, 8)
    envs.close()
    assert [s["value_warmup"] for s in stats] == [1.0] * 4 + [0.0] * 4
    tuned = evaluate(lambda o: agent.act(o, deterministic=True)[0], "CartPole-v1", 10, seed=100).mean()
    assert tuned >= 0.9 * cloned, (cloned, tuned)
