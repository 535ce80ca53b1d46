"""Reproduce drid/decide/models/carracing-ppo.npz: the policy ``drid demo driving`` drives with.

It is drid's PPO (continuous steering, gas, brake) trained on ``CarRacingDriverState-v0``
(``drid.decide.driving``): CarRacing-v3 whose 96×96 picture goes through the ``road`` detector
and the ``driving-state`` interpreter, so the policy sees the driver's state the pipeline
computes (offset, heading error, curvature, speed, off-road, the road's centre ahead, dashboard
steering and yaw rate).

The CPU budget of this project (CarRacing steps at 15..120 steps/s on its two shared cores) buys
tens of thousands of steps, where PPO from scratch needs about a million. So PPO starts from a
policy cloned from the hand-written ``driving-pd`` controller (``--clone-steps`` steps of it
driving, with noise on its steering so that the states include recoveries; the policy network
regressed on its actions, observation normalisation fitted to those states), then PPO trains on
the environment's reward. ``--clone-steps 0`` trains PPO from scratch. Training keeps the checkpoint with the best greedy evaluation; its
learning curve goes to out/carracing-ppo-curve.png and its metrics to
drid/decide/models/carracing-ppo.json. Ctrl-C (or SIGINT from ``timeout -s INT``) stops
training and keeps what was learned.

    .venv/bin/python scripts/train_driving_policy.py [--seed 0] [--steps 80000] [--eval-every 16000] [--episodes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENV = "drid.sources.driving:CarRacingDriverState-v0"
MODELS = Path(__file__).resolve().parents[1] / "drid" / "decide" / "models"
#: PPO on an 16-number state with continuous actions: rl-zoo's usual continuous-control
#: settings (gamma 0.99, GAE 0.95, lr 3e-4, normalised observations and rewards), rollouts of
#: 4 copies x 250 steps (a quarter of an episode each), a narrow initial exploration noise so
#: that the car keeps moving.
N_ENVS = 4
HYPER: dict[str, Any] = {"n_envs": N_ENVS, "n_steps": 250, "batch_size": 250, "n_epochs": 10, "gamma": 0.99, "gae_lambda": 0.95, "learning_rate": 3e-4,
         "normalize_obs": True, "normalize_reward": True, "log_std_init": -0.7, "hidden": [64, 64]}
#: A cloned policy explores less: its noise would otherwise undo what it copied.
CLONED_LOG_STD = -1.6


def clone_controller(work: Path, steps: int, seed: int) -> Path:
    """A PPO checkpoint whose policy imitates ``driving-pd`` (see the module's docstring)."""
    import keras
    import tensorflow as tf

    from drid.decide.driving import pd_actions
    from drid.decide.rl.envs import EnvBatch
    from drid.decide.rl.ppo import PPOAgent
    from drid.decide.rl.train import make_agent

    envs = EnvBatch(ENV, N_ENVS, seed=seed + 50_000)
    agent = make_agent("ppo", envs, **{**HYPER, "log_std_init": CLONED_LOG_STD, "seed": seed})
    assert isinstance(agent, PPOAgent)
    rng = np.random.default_rng(seed)
    states, targets = [], []
    noise = np.zeros(envs.n)
    for _ in range(max(1, steps // envs.n)):
        obs = envs.obs.copy()
        wanted = pd_actions(obs)
        noise = 0.9 * noise + rng.normal(0.0, 0.15, envs.n)  # slow steering drift the controller must correct
        acted = wanted.copy()
        acted[:, 0] = np.clip(acted[:, 0] + noise, -1.0, 1.0)
        states.append(obs)
        targets.append(wanted)
        envs.step(acted.astype(np.float32))
    envs.close()
    x, y = np.concatenate(states), np.concatenate(targets).astype(np.float32)
    assert agent.norm is not None
    agent.norm.update(x)
    xn = agent.norm(x).astype(np.float32)
    model = agent.pi.model
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    order = np.arange(len(xn))
    for _ in range(60):
        rng.shuffle(order)
        for k in range(0, len(order), 256):
            idx = order[k : k + 256]
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(xn[idx], training=True) - y[idx]))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables, strict=True))
    agent.pi.changed()
    fit = float(np.mean(np.square(agent.pi.numpy_forward(xn) - y)))
    print(f"cloned driving-pd from {len(x)} steps: mean squared action error {fit:.4f}", file=sys.stderr)
    path = work / "cloned.npz"
    agent.save(path, extra_meta={"env": ENV, "env_kwargs": {}, "cloned_steps": len(x)})
    return path


def main() -> int:
    from drid.decide.rl.train import evaluate_policy, train_policy

    cloned: dict[str, Any] = {}

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=80_000)
    parser.add_argument("--eval-every", type=int, default=16_000)
    parser.add_argument("--eval-episodes", type=int, default=3, help="episodes of each evaluation during training")
    parser.add_argument("--episodes", type=int, default=10, help="episodes of the final check of the kept policy")
    parser.add_argument("--out", default=str(MODELS / "carracing-ppo.npz"))
    parser.add_argument("--work", default="out/driving-train", help="training folder (checkpoints, metrics, curve)")
    parser.add_argument("--clone-steps", type=int, default=4000, help="steps of driving-pd to clone before PPO (0: PPO from scratch)")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    start = clone_controller(work, args.clone_steps, args.seed) if args.clone_steps > 0 else None
    if start is not None:
        cloned = evaluate_policy(start, ENV, episodes=args.eval_episodes)
        print(f"cloned policy: {cloned['mean']:.1f} ± {cloned['std']:.1f} over {args.eval_episodes} episodes", file=sys.stderr)
    metrics = train_policy(ENV, "ppo", args.steps, seed=args.seed, hyper=None if start else dict(HYPER), eval_every=args.eval_every,
                           eval_episodes=args.eval_episodes, out=work, resume=start, progress="lines", stop_at=None)
    result = evaluate_policy(Path(work) / "best.npz", ENV, episodes=args.episodes)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(work) / "best.npz", args.out)
    Path("out").mkdir(exist_ok=True)
    shutil.copyfile(Path(work) / "curve.png", Path("out") / "carracing-ppo-curve.png")
    card = {
        "env": ENV, "algo": "ppo", "seed": args.seed, "hyper": HYPER, "cloned_log_std": CLONED_LOG_STD,
        "clone_steps": args.clone_steps, "cloned_eval": cloned if start is not None else None, "ppo_steps": metrics["steps"],
        "train_seconds": metrics["train_seconds"], "wall_seconds": metrics["wall_seconds"],
        "best_eval_mean": metrics["best_eval_mean"], "evaluations": metrics["evaluations"],
        "check": {"episodes": args.episodes, "mean": result["mean"], "std": result["std"], "seed": 10_000},
        "command": "scripts/train_driving_policy.py " + " ".join(sys.argv[1:]),
    }
    Path(args.out).with_suffix(".json").write_text(json.dumps(card, indent=1), encoding="utf-8")
    print(f"cloned from {args.clone_steps} steps of driving-pd; PPO trained {metrics['steps']} steps in {metrics['train_seconds']:.0f} s (wall {metrics['wall_seconds']:.0f} s); "
          f"best evaluation {metrics['best_eval_mean']:.1f}")
    print(f"{args.out}: {result['mean']:.1f} ± {result['std']:.1f} over {args.episodes} episodes of {ENV}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
