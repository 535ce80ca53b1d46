"""Benchmark suite: drid's shipped presets (drid/decide/rl/presets.yaml) on the environments of
issue 15, next to the RL Baselines3 Zoo's published results for the same environment and algorithm.

For every cell (environment, algorithm) and seed, one ``drid train policy`` run in its own process
(the preset's hyperparameters, ``--budget`` steps: by default the Zoo's own step count, so that
"at no more steps" holds by construction), greedy evaluation every ``--eval-every`` steps over 20
episodes; then ``drid eval policy`` on the run's best checkpoint: 100 episodes, fixed seeds
10000..10099, in another process. Reported per run: steps and training wall-clock to the first
evaluation reaching the environment's threshold (or "-" when it never did), the 100-episode mean ±
std and success rate of the best checkpoint, the Zoo's figure, and whether drid's figure is at
least as good. The table is appended to ``OUT/suite.md`` (and ``OUT/suite.jsonl``) after every
run, so an interrupted suite keeps what it measured.

    .venv/bin/python benchmarks/rl_suite.py --list
    nice -n 10 .venv/bin/python benchmarks/rl_suite.py --cells CartPole-v1/ppo Pendulum-v1/ppo --seeds 1
    nice -n 10 .venv/bin/python benchmarks/rl_suite.py --envs Acrobot-v1 --seeds 3 --out out/rl-suite
    nice -n 10 .venv/bin/python benchmarks/rl_suite.py --seeds 3         # everything: days on 2 cores

The Zoo's numbers come from one run each (its benchmark.md: trained for n_timesteps, evaluated
deterministically over about 150,000 steps); drid's are per seed. The Zoo uses PPO-LSTM and CNN
policies from pixels for CarRacing; drid's MLP agents need a vector observation, so the CarRacing
cell runs on the environment given by --carracing-env (the driving pipeline's features) and is
only as comparable as that environment is.

Running drid in a subprocess per run also keeps TensorFlow apart from any peer library
(torch beside TensorFlow in one process crashes, issue 15).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Cell:
    env: str
    algo: str
    zoo_return: float
    zoo_steps: int
    zoo_note: str = ""

    @property
    def name(self) -> str:
        return f"{self.env}/{self.algo}"


def suite_cells() -> list[Cell]:
    """Every (environment, algorithm) of the shipped presets with an RL Zoo figure, cheapest first.
    The Zoo's results live in presets.yaml (``zoo:``; DLR-RM/rl-baselines3-zoo, benchmark.md,
    where LunarLander is v2 and CarRacing v0)."""
    from drid.decide.rl.presets import load_presets

    cells = []
    for env_id, presets in load_presets().items():
        others = ", ".join(f"{k} {v.return_:g} @ {v.steps:,}" for k, v in presets.zoo.items() if k not in ("ppo", "dqn"))
        for algo in ("ppo", "dqn"):
            zoo = presets.zoo.get(algo)
            if presets.algo(algo) is not None and zoo is not None:
                cells.append(Cell(env_id, algo, zoo.return_, zoo.steps, f"Zoo also: {others}" if others else ""))
    return sorted(cells, key=lambda c: c.zoo_steps)


def _drid(*args: str) -> list[str]:
    return [sys.executable, "-m", "drid.cli", *args]


def run_cell(cell: Cell, seed: int, budget: int, eval_every: int, out: Path, env_id: str, stop: bool) -> dict[str, Any]:
    """One training run and its 100-episode evaluation, each in its own process."""
    from drid.decide.rl.presets import reward_threshold

    run_dir = out / f"{cell.env}-{cell.algo}-s{seed}"
    threshold, source = reward_threshold(env_id)
    cmd = _drid("train", "policy", "--env", env_id, "--algo", cell.algo, "--seed", str(seed), "--steps", str(budget),
                "--eval-every", str(eval_every), "--eval-episodes", "20", "--out", str(run_dir), "--no-progress")
    if stop and threshold is not None:
        cmd += ["--stop-at", str(threshold)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        return {"cell": cell.name, "seed": seed, "error": (done.stderr or done.stdout).strip().splitlines()[-1:], "wall_seconds": wall}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    ev = subprocess.run(_drid("eval", "policy", str(run_dir / "best.npz"), "--episodes", "100", "--json"),
                        cwd=ROOT, env=env, capture_output=True, text=True)
    if ev.returncode != 0:
        return {"cell": cell.name, "seed": seed, "error": ev.stderr.strip().splitlines()[-1:], "wall_seconds": wall}
    result = json.loads(ev.stdout)
    reached = metrics.get("threshold_reached")
    return {
        "cell": cell.name, "env": env_id, "algo": cell.algo, "seed": seed, "budget": budget, "steps": metrics["steps"],
        "preset": metrics.get("preset"), "threshold": threshold, "threshold_source": source,
        "steps_to_threshold": reached["step"] if reached else None,
        "seconds_to_threshold": reached["train_seconds"] if reached else None,
        "train_seconds": metrics["train_seconds"], "wall_seconds": round(wall, 1),
        "best_checkpoint_steps": result["steps_trained"],
        "eval_mean": result["mean"], "eval_std": result["std"], "success_rate": result["success_rate"],
        "zoo_return": cell.zoo_return, "zoo_steps": cell.zoo_steps,
        "as_good_as_zoo": result["mean"] >= cell.zoo_return and result["steps_trained"] <= cell.zoo_steps,
    }


HEADER = ("| cell | seed | budget | steps to threshold | s to threshold | best ckpt @ | return (100 ep) | success | "
          "RL Zoo | >= Zoo at <= steps |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")


def row(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"| {r['cell']} | {r['seed']} | | | | | error: {' '.join(r['error'])[:120]} | | | |"
    to_t = f"{r['steps_to_threshold']:,}" if r["steps_to_threshold"] else f"not reached ({r['threshold']:g})"
    secs = f"{r['seconds_to_threshold']:.0f}" if r["seconds_to_threshold"] is not None else "-"
    success = "-" if r["success_rate"] is None else f"{100 * r['success_rate']:.0f} %"
    return (f"| {r['cell']} | {r['seed']} | {r['budget']:,} | {to_t} | {secs} | {r['best_checkpoint_steps']:,} | "
            f"{r['eval_mean']:.1f} ± {r['eval_std']:.1f} | {success} | {r['zoo_return']:g} @ {r['zoo_steps']:,} | "
            f"{'yes' if r['as_good_as_zoo'] else 'no'} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="*", default=None, help="environments to run (default: all)")
    parser.add_argument("--cells", nargs="*", default=None, metavar="ENV/ALGO", help="cells to run, e.g. Pendulum-v1/ppo")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per cell (default: 3)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=None, help="steps per run (default: the Zoo's step count of the cell)")
    parser.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default: budget / 20, at least 5000)")
    parser.add_argument("--stop-at-threshold", action="store_true", help="end a run at its first evaluation reaching the threshold")
    parser.add_argument("--carracing-env", default="drid.sources.driving:CarRacingDriverState-v0",
                        help="environment of the CarRacing cell: a vector-observation one (default: the driving pipeline's driver state)")
    parser.add_argument("--out", default="out/rl-suite", help="folder for runs, suite.md and suite.jsonl")
    parser.add_argument("--list", action="store_true", help="print the cells and exit")
    args = parser.parse_args()
    cells = suite_cells()
    known_envs = {c.env for c in cells}
    for e in args.envs or []:
        if e not in known_envs:
            parser.error(f"--envs: unknown environment '{e}' (known: {', '.join(sorted(known_envs))})")
    if args.envs:
        cells = [c for c in cells if c.env in args.envs]
    if args.cells:
        names = [c.name for c in suite_cells()]
        for n in args.cells:
            if n not in names:
                parser.error(f"--cells: unknown cell '{n}' (known: {', '.join(names)})")
        cells = [c for c in cells if c.name in args.cells]
    if args.list:
        for c in cells:
            print(f"{c.name:32} RL Zoo {c.zoo_return:8.1f} @ {c.zoo_steps:>9,}  {c.zoo_note}")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "suite.md"
    if not table.exists():
        table.write_text(HEADER + "\n", encoding="utf-8")
    print(HEADER, flush=True)
    results = []
    for cell in cells:
        budget = args.budget or cell.zoo_steps
        eval_every = args.eval_every or max(5_000, budget // 20)
        env_id = args.carracing_env if cell.env == "CarRacing-v3" else cell.env
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            r = run_cell(cell, seed, budget, eval_every, out, env_id, args.stop_at_threshold)
            results.append(r)
            line = row(r)
            print(line, flush=True)
            with table.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
            with (out / "suite.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps(r) + "\n")
    ok = [r for r in results if "error" not in r]
    print(f"\n{sum(r['as_good_as_zoo'] for r in ok)}/{len(ok)} runs at least as good as the RL Zoo at no more steps; "
          f"{len(results) - len(ok)} failed to run; table in {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
