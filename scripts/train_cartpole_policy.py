"""Reproduce drid/decide/models/cartpole-ppo.npz: the policy ``drid demo cartpole`` plays from pixels.

It is drid's PPO trained on ``CartPoleFrames-v1`` (``drid.sources.cartpole``): CartPole-v1 seen
the way the pixel pipeline sees it — measured position and angle with the detector's error,
velocities from frame differences. Training keeps the checkpoint with the best greedy
evaluation (its learning curve goes to out/cartpole-ppo-curve.png); the script then checks it
over 100 episodes of that environment.

    .venv/bin/python scripts/train_cartpole_policy.py [--seed 0] [--steps 150000] [--out drid/decide/models/cartpole-ppo.npz]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENV = "drid.sources.cartpole:CartPoleFrames-v1"


def main() -> int:
    from drid.decide.rl.train import evaluate_policy, train_policy

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=150_000)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "drid" / "models" / "cartpole-ppo.npz"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        metrics = train_policy(ENV, "ppo", args.steps, seed=args.seed, eval_every=10_240, eval_episodes=20, out=work,
                               progress=sys.stderr.isatty(), stop_at=None)
        result = evaluate_policy(Path(work) / "best.npz", ENV, episodes=100)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(work) / "best.npz", args.out)
        Path("out").mkdir(exist_ok=True)
        shutil.copyfile(Path(work) / "curve.png", Path("out") / "cartpole-ppo-curve.png")
    print(f"trained {metrics['steps']} steps in {metrics['train_seconds']:.1f} s; best evaluation {metrics['best_eval_mean']:.1f}")
    print(f"{args.out}: {result['mean']:.1f} ± {result['std']:.1f} over 100 episodes of {ENV}")
    return 0 if result["mean"] >= 475 else 1


if __name__ == "__main__":
    sys.exit(main())
