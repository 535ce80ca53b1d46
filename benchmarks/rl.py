"""Benchmark: drid's PPO and DQN (TensorFlow) on CartPole-v1 against Stable-Baselines3's PPO with
the rl-zoo hyperparameters, in the same run on the same machine.

For each seed, every agent trains until its greedy policy averages >= 475 over 100 evaluation
episodes (fixed episode seeds, the same evaluation code for all), checked every EVAL_EVERY steps:
PPO within 100,000 environment steps, DQN within 50,000. Reported per seed: the step count and
the training wall-clock to that point (evaluation time excluded, agent construction included),
and the ratio SB3 time / drid time (> 1: drid is faster). Every (agent, seed) run is its own
process (``--worker``): torch, which SB3 needs, segfaults when imported beside TensorFlow in one
process (issue 15: exit 139). Each worker runs a short throw-away training first (unless
--no-warmup), so that one-time initialisation (TensorFlow graph machinery, torch kernels) is not
charged to the timed run.

    .venv/bin/python benchmarks/rl.py                 # 5 seeds, all agents (needs the 'bench' extra for SB3)
    .venv/bin/python benchmarks/rl.py --seeds 2 --skip-sb3 --json out/rl-bench.json
    .venv/bin/python benchmarks/rl.py --only-pixels      # CartPole from pixels: 20 episodes, four stages

The pixel part plays ``--pixel-episodes`` episodes of the ``drid demo cartpole`` pipeline (shipped
policy, state estimated from the rendered frames) and reports the returns and the error of the
estimated pole angle against the true one (read from the transitions afterwards, as a check).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drid.decide.rl import DQNAgent, EnvBatch, PPOAgent, evaluate

ENV = "CartPole-v1"
THRESHOLD = 475.0
EVAL_EPISODES = 100


def _eval(policy: Callable[[np.ndarray], np.ndarray]) -> float:
    return float(evaluate(policy, ENV, EVAL_EPISODES, seed=10_000).mean())


def run_drid(algo: str, seed: int, budget: int, eval_every: int) -> dict[str, Any]:
    t_start = time.perf_counter()
    eval_time = 0.0
    n = 8 if algo == "ppo" else 1
    envs = EnvBatch(ENV, n, seed=seed)
    agent = (PPOAgent if algo == "ppo" else DQNAgent).for_env(envs, seed=seed, total_steps=budget)
    evals = []
    next_eval = eval_every
    while agent.steps < budget:
        obs = envs.obs.copy()
        actions, extras = agent.act(obs)
        nxt, rew, term, trunc, _ = envs.step(actions)
        agent.observe(obs, actions, rew, nxt, term, trunc, extras)
        if agent.steps >= next_eval:
            next_eval += eval_every
            t0 = time.perf_counter()
            mean = _eval(lambda o: agent.act(o, deterministic=True)[0])
            eval_time += time.perf_counter() - t0
            evals.append((agent.steps, round(mean, 1)))
            if mean >= THRESHOLD:
                return {"hit": True, "steps": agent.steps, "seconds": time.perf_counter() - t_start - eval_time, "evals": evals}
    return {"hit": False, "steps": agent.steps, "seconds": time.perf_counter() - t_start - eval_time, "evals": evals}


def run_sb3_ppo(seed: int, budget: int, eval_every: int) -> dict[str, Any]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    t_start = time.perf_counter()
    state: dict[str, Any] = {"eval_time": 0.0, "evals": [], "hit": None, "next": eval_every}

    def linear(start: float) -> Callable[[float], float]:
        return lambda progress_remaining: progress_remaining * start

    class EvalAndStop(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps < state["next"]:
                return True
            state["next"] += eval_every
            t0 = time.perf_counter()
            mean = _eval(lambda o: self.model.predict(o, deterministic=True)[0])
            state["eval_time"] += time.perf_counter() - t0
            state["evals"].append((self.num_timesteps, round(mean, 1)))
            if mean >= THRESHOLD:
                state["hit"] = (self.num_timesteps, time.perf_counter() - t_start - state["eval_time"])
                return False
            return True

    # rl-zoo hyperparams/ppo.yml, CartPole-v1
    env = make_vec_env(ENV, n_envs=8, seed=seed)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                learning_rate=linear(1e-3), clip_range=linear(0.2), seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=budget, callback=EvalAndStop())
    if state["hit"]:
        steps, seconds = state["hit"]
        return {"hit": True, "steps": steps, "seconds": seconds, "evals": state["evals"]}
    return {"hit": False, "steps": budget, "seconds": time.perf_counter() - t_start - state["eval_time"], "evals": state["evals"]}


def run_pixels(episodes: int, seed: int = 2024) -> dict[str, Any]:
    from drid.demos.cartpole import DEFAULT_POLICY, angle_errors, cartpole_pipeline
    from drid.pipeline.hookspecs import hookimpl

    kept: list[Any] = []

    class Keep:
        drid_name = "keep"

        @hookimpl
        def drid_write(self, record: Any) -> None:
            kept.append(record.model_copy(update={"frame": record.frame.model_copy(update={"image": None})}))

    pipe = cartpole_pipeline(DEFAULT_POLICY, episodes=episodes, seed=seed, sinks=[Keep()])
    t0 = time.perf_counter()
    pipe.run()
    seconds = time.perf_counter() - t0
    returns = np.array([e["return"] for e in pipe.source.instance.episodes])
    err = np.degrees(angle_errors(kept))
    result: dict[str, Any] = {"episodes": len(returns), "mean": float(returns.mean()), "std": float(returns.std()), "min": float(returns.min()),
              "angle_error_deg": {"mean": float(err.mean()), "p99": float(np.percentile(err, 99)), "max": float(err.max())},
              "frames": len(kept), "frames_per_second": len(kept) / seconds}
    print(f"CartPole from pixels (4 stages, shipped policy): return {result['mean']:.1f} ± {result['std']:.1f} over {len(returns)} episodes "
          f"(min {result['min']:.0f}; goal: mean >= 475); estimated pole angle error {result['angle_error_deg']['mean']:.2f} deg mean, "
          f"{result['angle_error_deg']['p99']:.2f} deg p99, {result['angle_error_deg']['max']:.2f} deg max over {len(kept)} frames "
          f"({result['frames_per_second']:.0f} frames/s)", flush=True)
    return result


RUNS = {
    "drid-ppo": lambda seed, warm: run_drid("ppo", seed, 2_048 if warm else 100_000, 10**9 if warm else 5_120),
    "drid-dqn": lambda seed, warm: run_drid("dqn", seed, 1_536 if warm else 50_000, 10**9 if warm else 2_500),
    "sb3-ppo": lambda seed, warm: run_sb3_ppo(seed, 2_048 if warm else 100_000, 10**9 if warm else 5_120),
}


def worker(name: str, seed: int, warmup: bool) -> int:
    """One run in this process; its result is the last line of standard output (JSON)."""
    if warmup:
        RUNS[name](99, True)
    print(json.dumps(RUNS[name](seed, False)))
    return 0


def in_process(name: str, seed: int, warmup: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", name, "--seed", str(seed)] + ([] if warmup else ["--no-warmup"])
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        raise SystemExit(f"{name} seed {seed}: the worker exited with {done.returncode}: {tail[0][:300]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--pixel-episodes", type=int, default=20, help="episodes of the pixel pipeline (0: skip it)")
    parser.add_argument("--only-pixels", action="store_true", help="run only the pixel pipeline")
    parser.add_argument("--no-warmup", action="store_true", help="no throw-away run before the timed ones")
    parser.add_argument("--worker", choices=sorted(RUNS), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.seed, not args.no_warmup)
    if args.only_pixels:
        result = run_pixels(args.pixel_episodes)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps({"pixels": result}, indent=1))
        return 0
    sb3 = not args.skip_sb3
    if sb3:
        probe = subprocess.run([sys.executable, "-c", "import stable_baselines3"], capture_output=True)
        if probe.returncode != 0:
            print("stable-baselines3 (with torch) is not installed (pip install -e '.[bench]' with CPU torch): skipping the SB3 baseline")
            sb3 = False
    results: dict[str, list[dict[str, Any]]] = {"drid-ppo": [], "drid-dqn": [], "sb3-ppo": []}
    for seed in range(args.seeds):
        names = ["drid-ppo", "drid-dqn"] + (["sb3-ppo"] if sb3 else [])
        for name in names:
            r = in_process(name, seed, not args.no_warmup)
            r["seed"] = seed
            results[name].append(r)
            print(f"seed {seed} {name:<9} {'reached' if r['hit'] else 'missed '} {THRESHOLD:.0f} at {r['steps']:>6} steps, "
                  f"{r['seconds']:6.1f} s training; evaluations {r['evals']}", flush=True)
    print()
    print(f"CartPole-v1, greedy mean return over {EVAL_EPISODES} episodes >= {THRESHOLD:.0f}; time = training wall-clock to that point")
    print(f"{'seed':>4} | {'drid PPO steps':>14} {'s':>7} | {'drid DQN steps':>14} {'s':>7} | {'SB3 PPO steps':>13} {'s':>7} | SB3/drid PPO time")
    ratios = []
    for seed in range(args.seeds):
        row = [f"{seed:>4}"]
        for name, width in (("drid-ppo", 14), ("drid-dqn", 14), ("sb3-ppo", 13)):
            rs = [r for r in results[name] if r["seed"] == seed]
            if not rs:
                row.append(f"{'-':>{width}} {'-':>7}")
                continue
            r = rs[0]
            row.append(f"{(r['steps'] if r['hit'] else 'missed'):>{width}} {r['seconds']:7.1f}")
        p = results["drid-ppo"][seed]
        s = [r for r in results["sb3-ppo"] if r["seed"] == seed]
        if s and p["hit"] and s[0]["hit"]:
            ratio = s[0]["seconds"] / p["seconds"]
            ratios.append(ratio)
            row.append(f"{ratio:.2f}")
        else:
            row.append("-")
        print(" | ".join(row))
    hits = {k: sum(r["hit"] for r in v) for k, v in results.items()}
    print(f"reached: drid PPO {hits['drid-ppo']}/{args.seeds} within 100k (goal >= 4), drid DQN {hits['drid-dqn']}/{args.seeds} within 50k "
          f"(goal >= 3)" + (f", SB3 PPO {hits['sb3-ppo']}/{args.seeds} within 100k" if sb3 else ""))
    if ratios:
        print(f"SB3 PPO time / drid PPO time: median {np.median(ratios):.2f} (per seed {', '.join(f'{r:.2f}' for r in ratios)}) — above 1 means drid is faster")
    out: dict[str, Any] = dict(results)
    if args.pixel_episodes:
        out["pixels"] = run_pixels(args.pixel_episodes)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
