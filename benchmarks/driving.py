"""Driving CarRacing-v3 from pixels: PPO against the hand-written controller, in one run.

Every policy drives the same episodes (episode i starts from ``reset(seed=SEED + i)``) on
``CarRacingDriverState-v0`` — CarRacing-v3 whose 96×96 picture goes through the ``road``
detector and the ``driving-state`` interpreter — and acts on the driver's state:

- ``random``: uniform actions in CarRacing's action space (the floor);
- ``driving-pd``: the PD steering and speed controller of ``drid.decide.driving`` (the baseline);
- ``ppo``: the shipped policy (``drid/decide/models/carracing-ppo.npz``) or ``--policy``.

It prints mean ± std of the returns and each policy's mean as a ratio of the controller's, and the
perception's cost: environment steps per second of bare CarRacing-v3 against the same steps
with the driver's state computed from each frame (both measured here, on the same actions).

    .venv/bin/python benchmarks/driving.py [--episodes 5] [--policy PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENV = "drid.sources.driving:CarRacingDriverState-v0"
SEED = 10_000
DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "drid" / "decide" / "models" / "carracing-ppo.npz"


def perception_cost(steps: int = 300) -> tuple[float, float]:
    """Steps per second of bare CarRacing-v3 and of the driver-state environment, same actions."""
    import gymnasium

    from drid.decide.driving import make_driver_state_env

    rng = np.random.default_rng(0)
    actions = np.stack([rng.uniform(-0.3, 0.3, steps), np.full(steps, 0.2), np.zeros(steps)], axis=1).astype(np.float32)
    rates = []
    for env in (gymnasium.make("CarRacing-v3"), make_driver_state_env()):
        env.reset(seed=SEED)
        t0 = time.perf_counter()
        for a in actions:
            env.step(a)
        rates.append(steps / (time.perf_counter() - t0))
        env.close()
    return rates[0], rates[1]


def main() -> int:
    from drid.decide.driving import pd_actions
    from drid.decide.rl.agent import load_agent
    from drid.decide.rl.envs import evaluate

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--policy", default=str(DEFAULT_POLICY))
    parser.add_argument("--parallel", type=int, default=1, help="episodes run side by side (one process)")
    args = parser.parse_args()

    rng = np.random.default_rng(SEED)

    def random_policy(obs: np.ndarray) -> np.ndarray:
        n = len(obs)
        return np.stack([rng.uniform(-1, 1, n), rng.uniform(0, 1, n), rng.uniform(0, 1, n)], axis=1)

    policies: dict[str, Any] = {"random": random_policy, "driving-pd": pd_actions}
    if Path(args.policy).is_file():
        agent = load_agent(args.policy)
        policies["ppo"] = lambda obs: agent.act(obs, deterministic=True)[0]
    else:
        print(f"no PPO policy at {args.policy}: PPO left out", file=sys.stderr)
    results = {}
    for name, policy in policies.items():
        t0 = time.perf_counter()
        returns = evaluate(policy, ENV, episodes=args.episodes, seed=SEED, parallel=args.parallel)
        results[name] = (returns, time.perf_counter() - t0)
    bare, perceived = perception_cost()
    base = float(results["driving-pd"][0].mean())
    print(f"CarRacing-v3 from pixels, {args.episodes} episodes each (seeds {SEED}..{SEED + args.episodes - 1}), acting on the driver's state")
    print(f"{'policy':<12} {'mean':>8} {'std':>7} {'min':>8} {'max':>8} {'vs driving-pd':>14} {'seconds':>8}")
    for name, (returns, seconds) in results.items():
        ratio = float(returns.mean()) / base if base else float("nan")
        print(f"{name:<12} {returns.mean():8.1f} {returns.std():7.1f} {returns.min():8.1f} {returns.max():8.1f} {ratio:14.2f} {seconds:8.0f}")
    print(f"perception: {bare:.0f} steps/s bare CarRacing-v3, {perceived:.0f} steps/s with road + driving-state on every frame "
          f"({perceived / bare:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
