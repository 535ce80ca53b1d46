"""Reproduce drid/decide/models/carracing-ppo.npz: the policy ``drid demo driving`` drives with.

It is drid's PPO (continuous steering, gas, brake) trained on ``CarRacingDriverState-v0``
(``drid.sources.driving``): CarRacing-v3 whose 96×96 picture goes through the ``road`` detector
and the ``driving-state`` interpreter, so the policy sees the driver's state the pipeline
computes (offset, heading error, curvature, speed, off-road, the road's centre ahead, dashboard
steering and yaw rate). Training keeps the checkpoint with the best greedy evaluation; its
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENV = "drid.sources.driving:CarRacingDriverState-v0"
MODELS = Path(__file__).resolve().parents[1] / "drid" / "decide" / "models"
#: PPO on an 16-number state with continuous actions: rl-zoo's usual continuous-control
#: settings (gamma 0.99, GAE 0.95, lr 3e-4, normalised observations and rewards), rollouts of
#: 4 copies x 250 steps (a quarter of an episode each), a narrow initial exploration noise so
#: that the car keeps moving.
HYPER = {"n_envs": 4, "n_steps": 250, "batch_size": 250, "n_epochs": 10, "gamma": 0.99, "gae_lambda": 0.95, "learning_rate": 3e-4,
         "normalize_obs": True, "normalize_reward": True, "log_std_init": -0.7, "hidden": [64, 64]}


def main() -> int:
    from drid.decide.rl.train import evaluate_policy, train_policy

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=80_000)
    parser.add_argument("--eval-every", type=int, default=16_000)
    parser.add_argument("--eval-episodes", type=int, default=3, help="episodes of each evaluation during training")
    parser.add_argument("--episodes", type=int, default=10, help="episodes of the final check of the kept policy")
    parser.add_argument("--out", default=str(MODELS / "carracing-ppo.npz"))
    parser.add_argument("--work", default="out/driving-train", help="training folder (checkpoints, metrics, curve)")
    args = parser.parse_args()
    work = args.work
    metrics = train_policy(ENV, "ppo", args.steps, seed=args.seed, hyper=dict(HYPER), eval_every=args.eval_every,
                           eval_episodes=args.eval_episodes, out=work, progress="lines", stop_at=None)
    result = evaluate_policy(Path(work) / "best.npz", ENV, episodes=args.episodes)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(work) / "best.npz", args.out)
    Path("out").mkdir(exist_ok=True)
    shutil.copyfile(Path(work) / "curve.png", Path("out") / "carracing-ppo-curve.png")
    card = {
        "env": ENV, "algo": "ppo", "seed": args.seed, "hyper": HYPER, "steps": metrics["steps"],
        "train_seconds": metrics["train_seconds"], "wall_seconds": metrics["wall_seconds"],
        "best_eval_mean": metrics["best_eval_mean"], "evaluations": metrics["evaluations"],
        "check": {"episodes": args.episodes, "mean": result["mean"], "std": result["std"], "seed": 10_000},
        "command": "scripts/train_driving_policy.py " + " ".join(sys.argv[1:]),
    }
    Path(args.out).with_suffix(".json").write_text(json.dumps(card, indent=1), encoding="utf-8")
    print(f"trained {metrics['steps']} steps in {metrics['train_seconds']:.0f} s (wall {metrics['wall_seconds']:.0f} s); "
          f"best evaluation {metrics['best_eval_mean']:.1f}")
    print(f"{args.out}: {result['mean']:.1f} ± {result['std']:.1f} over {args.episodes} episodes of {ENV}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
