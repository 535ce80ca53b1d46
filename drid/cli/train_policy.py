"""``drid train policy``: train a DQN or PPO policy on a gymnasium environment (the command line
of :func:`drid.decide.rl.train.train_policy`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from drid.cli._args import json_object, key_value, positive_int

TRAIN_EXAMPLES = """\
examples (each trains with the shipped preset of its environment, measured to reach the threshold; see --list-presets):
  drid train policy --env CartPole-v1                  (ppo)
  drid train policy --env Pendulum-v1                  (ppo, continuous actions)
  drid train policy --env MountainCar-v0               (dqn: PPO fails on this sparse reward)
  drid train policy --env Acrobot-v1 --algo dqn --out out/dqn-acrobot
  drid train policy --env Pendulum-v1 --hp learning_rate=3e-4 --steps 200000    (override the preset)
  drid train policy --env CartPole-v1 --preset none --hp n_steps=64             (no preset: agent defaults)
  drid train policy --env CartPole-v1 --resume out/policy-ppo-CartPole-v1/last.npz --steps 20000
  drid train policy --env CartPole-v1 --backend ray --runners 4   (environments in Ray actors)

presets: drid/decide/rl/presets.yaml (docs/policies.md); measured results in 'drid train policy --list-presets'.
writes OUT/best.npz (best evaluation), OUT/last.npz (resumable), OUT/metrics.json, OUT/curve.png;
'drid eval policy OUT/best.npz' then needs no other flag.
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "policy", help="train a DQN or PPO policy on a gymnasium environment",
        description="Train a DQN or PPO policy (TensorFlow) on any gymnasium environment with a Box observation "
                    "and Discrete actions (PPO: also Box actions), with periodic greedy evaluation.",
        epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default=None, help="gymnasium environment id, e.g. CartPole-v1 (required unless --list-presets)")
    p.add_argument("--algo", choices=["ppo", "dqn"], default=None,
                   help="algorithm (default: the preset's for --env, e.g. dqn for MountainCar-v0; else ppo; or the --resume checkpoint's)")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="environment steps (default: the preset's budget; without one 100000 for ppo, 50000 for dqn)")
    p.add_argument("--preset", choices=["auto", "none"], default="auto",
                   help="'auto' (default): the shipped hyperparameters for --env and --algo; 'none': the agents' plain defaults")
    p.add_argument("--list-presets", action="store_true", help="print the shipped presets (status, budget, measured result) and exit")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-envs", type=positive_int, default=None, help="environments stepped together (default: the preset's; without one ppo 8, dqn 1)")
    p.add_argument("--hp", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                   help="hyperparameter override on top of the preset, repeatable (see drid.decide.rl.ppo.PPOConfig / drid.decide.rl.dqn.DQNConfig)")
    p.add_argument("--env-kwargs", type=json_object, default=None, metavar="JSON", help="keyword arguments for gymnasium.make")
    p.add_argument("--eval-every", type=positive_int, default=10_000, metavar="STEPS", help="evaluate every STEPS steps (default: 10000)")
    p.add_argument("--eval-episodes", type=positive_int, default=20, metavar="N", help="episodes per evaluation (default: 20)")
    p.add_argument("--stop-at", type=float, default=None, metavar="RETURN", help="stop at the first evaluation reaching this mean return")
    p.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue training from a checkpoint (last.npz) for --steps more")
    p.add_argument("--out", default=None, help="output folder (default: out/policy-ALGO-ENV)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (nor, when not on a terminal, the line per evaluation)")
    p.add_argument("--backend", choices=["local", "ray"], default="local", help="'ray': ppo's environments stepped by Ray actors (needs drid[ray])")
    p.add_argument("--runners", type=positive_int, default=2, metavar="N", help="Ray rollout runners sharing the n-envs copies (default: 2)")
    p.add_argument("--address", default=None, metavar="ADDR", help="Ray cluster to join (default: a local one)")
    p.set_defaults(handler=cmd_train_policy)


def conflicts(args: argparse.Namespace) -> None:
    """``ConfigError`` for options that contradict each other (drid does not pick one silently)."""
    from drid.errors import ConfigError

    hyper = dict(args.hp)
    if args.n_envs is not None and "n_envs" in hyper and hyper["n_envs"] != args.n_envs:
        raise ConfigError(f"--n-envs {args.n_envs} and --hp n_envs={hyper['n_envs']} disagree: give one", path="--n-envs")
    if args.resume is None:
        return
    from drid.decide.rl.common import read_checkpoint

    meta, _ = read_checkpoint(args.resume)
    if args.algo is not None and args.algo != meta["algo"]:
        raise ConfigError(f"--algo {args.algo}, but the --resume checkpoint '{args.resume}' is a {meta['algo']} policy "
                          f"(drop --algo, or start a fresh {args.algo} run without --resume)", path="--algo")
    saved = meta.get("config", {}).get("n_envs")
    wanted = args.n_envs if args.n_envs is not None else hyper.get("n_envs")
    if wanted is not None and saved is not None and wanted != saved:
        raise ConfigError(f"the --resume checkpoint steps {saved} environments; it cannot resume with {wanted}", path="--n-envs")


def list_presets() -> int:
    from drid.decide.rl.presets import load_presets

    for env_id, presets in load_presets().items():
        threshold = "none" if presets.threshold is None else f"{presets.threshold:g}"
        print(f"{env_id} (success: return >= {threshold}; default algorithm {presets.default_algo})")
        for algo in ("ppo", "dqn"):
            preset = presets.algo(algo)
            if preset is None:
                continue
            zoo = presets.zoo.get(algo)
            ref = f"; RL Zoo {zoo.return_:g} @ {zoo.steps:,}" if zoo is not None else ""
            print(f"  {algo}: {preset.status}, {preset.steps:,} steps{ref}" + (f"\n      drid: {preset.result}" if preset.result else ""))
        if presets.note:
            print(f"  note: {presets.note}")
    return 0


def cmd_train_policy(args: argparse.Namespace) -> int:
    from drid.decide.rl.presets import resolve
    from drid.decide.rl.train import train_policy
    from drid.errors import ConfigError

    if args.list_presets:
        return list_presets()
    if not args.env:
        raise ConfigError("--env is required (a gymnasium id such as CartPole-v1; --list-presets shows the tuned ones)", path="--env")
    conflicts(args)
    hyper = dict(args.hp)
    if args.resume is None:
        from drid.sources.gym import check_env_id

        check_env_id(args.env)  # an unknown id is refused (with close matches) before anything is said about presets
        resolved = resolve(args.env, args.algo, args.steps, hyper, args.n_envs, args.preset)
        algo, steps = resolved.algo, resolved.steps
        describe_preset(resolved, args.env)
    else:
        algo, steps = args.algo or "ppo", args.steps or 100_000
    out = Path(args.out or f"out/policy-{algo}-{args.env.replace('/', '_')}")
    progress: bool | str = False if args.no_progress else (True if sys.stderr.isatty() else "lines")
    ray_started = False
    if args.backend == "ray":  # the rollout runners need a cluster: join --address, or start a local one
        from drid.pipeline.backends.ray_backend import connect

        ray_started = connect(args.address, None)
    try:
        metrics = train_policy(args.env, algo, steps, seed=args.seed, n_envs=args.n_envs, env_kwargs=args.env_kwargs,
                               hyper=hyper, eval_every=args.eval_every, eval_episodes=args.eval_episodes, out=out,
                               resume=args.resume, progress=progress, stop_at=args.stop_at,
                               backend=args.backend, runners=args.runners, preset=args.preset)
    finally:
        if ray_started:
            import ray

            ray.shutdown()
    ev = metrics["evaluations"][-1]
    print(f"{metrics['algo']} on {metrics['env']}: {metrics['steps']} steps in {metrics['train_seconds']:.1f} s training "
          f"({metrics['wall_seconds']:.1f} s with evaluation); last evaluation {ev['mean']:.1f} ± {ev['std']:.1f} over "
          f"{args.eval_episodes} episodes, best {metrics['best_eval_mean']:.1f}")
    reached = metrics.get("threshold_reached")
    if metrics.get("reward_threshold") is not None:
        print(f"threshold {metrics['reward_threshold']:g}: " + (f"first reached at step {reached['step']} ({reached['train_seconds']:.1f} s training)"
                                                                 if reached else "not reached"))
    print(f"wrote {out / 'best.npz'}, {out / 'last.npz'}, {out / 'metrics.json'}, {out / 'curve.png'}")
    return 0


def describe_preset(resolved: Any, env_id: str) -> None:
    """One line (standard output, beside the summary) saying which hyperparameters train, and how far to trust them."""
    if resolved.preset is None:
        print(f"{resolved.algo} on {env_id}: no shipped preset, the agent's defaults and --hp", flush=True)
        return
    trust = {"measured": f"measured: {resolved.result}",
             "unmeasured": "UNMEASURED: drid has not run this preset; no claim that it reaches the threshold",
             "fails": f"KNOWN TO FAIL: {resolved.result}"}[resolved.status]
    print(f"preset {resolved.preset} ({resolved.steps:,} steps; {trust})", flush=True)
    if resolved.note and resolved.status != "measured":
        print(f"note: {resolved.note}", flush=True)
