"""A short PPO training on CarRacing-v3 from pixels beats the random policy.

drid's own PPO (``drid.decide.rl``), seeded, trains from scratch — no cloned controller — on
``CarRacingDriverState-v0``: every 96×96 frame goes through the ``road`` detector and the
``driving-state`` interpreter, and the policy sees the driver's state they compute (offset,
heading, the road's centre ahead, speed, ...) — the features are where it starts from, not
pixels fed to a network. Episodes are cut at ``LIMIT`` steps (gymnasium's ``max_episode_steps``)
for training and for both evaluations, which drive the same seeds.

Measured once (2 shared cores, under load, ~31 s for the test): trained 33.1, 33.5, 32.2 on seeds
10000-10002; random 1.0, 0.2, 0.7; the same network untrained -2.2, -2.9, -2.4 — so the margin
asserted (20 points, about six tiles) comes from the training, not from the network's start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("Box2D")

ENV = "drid.sources.driving:CarRacingDriverState-v0"
LIMIT = 150
KWARGS = {"max_episode_steps": LIMIT}
SEED = 10_000
EPISODES = 3


@pytest.mark.slow
def test_a_short_training_beats_random(tmp_path: Path) -> None:
    from drid.decide.rl.envs import evaluate
    from drid.decide.rl.train import evaluate_policy, train_policy

    hyper = {"n_envs": 2, "n_steps": 150, "batch_size": 100, "n_epochs": 10, "learning_rate": 1e-3, "gamma": 0.99,
             "normalize_obs": True, "normalize_reward": True, "log_std_init": -0.7, "hidden": [64, 64]}
    train_policy(ENV, "ppo", 1800, seed=0, env_kwargs=KWARGS, hyper=hyper, eval_every=10**9, eval_episodes=1,
                 out=tmp_path, progress=False)
    trained = evaluate_policy(tmp_path / "last.npz", ENV, episodes=EPISODES, seed=SEED, env_kwargs=KWARGS)["returns"]
    rng = np.random.default_rng(0)
    random = evaluate(lambda o: np.stack([rng.uniform(-1, 1, len(o)), rng.uniform(0, 1, len(o)), rng.uniform(0, 1, len(o))], axis=1),
                      ENV, episodes=EPISODES, seed=SEED, kwargs=KWARGS)
    print(f"trained {np.round(trained, 1)} random {np.round(random, 1)}")
    assert np.mean(trained) > np.mean(random) + 20, (trained, random.tolist())
