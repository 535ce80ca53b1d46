"""``drid train policy``: train a DQN or PPO policy on a gymnasium environment (the command line
of :func:`drid.decide.rl.train.train_policy`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from drid.cli._args import json_object, key_value, positive_int

TRAIN_EXAMPLES = """\
examples:
  drid train policy --env CartPole-v1 --algo ppo
  drid train policy --env CartPole-v1 --algo dqn --steps 50000 --out out/dqn-cartpole
  drid train policy --env Pendulum-v1 --algo ppo --n-envs 4 --steps 100000 --hp n_steps=512 --hp batch_size=64
      --hp n_epochs=10 --hp learning_rate=3e-4 --hp gamma=0.99 --hp gae_lambda=0.95
      --hp normalize_obs=true --hp normalize_reward=true    (continuous actions, one command)
  drid train policy --env CartPole-v1 --algo ppo --resume out/policy-ppo-CartPole-v1/last.npz --steps 20000
  drid train policy --env CartPole-v1 --algo ppo --backend ray --runners 4   (environments in Ray actors)

writes OUT/best.npz (best evaluation), OUT/last.npz (resumable), OUT/metrics.json, OUT/curve.png
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "policy", help="train a DQN or PPO policy on a gymnasium environment",
        description="Train a DQN or PPO policy (TensorFlow) on any gymnasium environment with a Box observation "
                    "and Discrete actions (PPO: also Box actions), with periodic greedy evaluation.",
        epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", required=True, help="gymnasium environment id, e.g. CartPole-v1")
    p.add_argument("--algo", choices=["ppo", "dqn"], default=None, help="algorithm (default: ppo, or the --resume checkpoint's)")
    p.add_argument("--steps", type=positive_int, default=None, help="environment steps (default: 100000 for ppo, 50000 for dqn)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-envs", type=positive_int, default=None, help="environments stepped together (default: ppo 8, dqn 1)")
    p.add_argument("--hp", action="append", type=key_value, default=[], metavar="KEY=VALUE", help="hyperparameter override, repeatable (see drid.decide.rl.ppo.PPOConfig / drid.decide.rl.dqn.DQNConfig)")
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


def cmd_train_policy(args: argparse.Namespace) -> int:
    from drid.decide.rl.train import train_policy

    conflicts(args)
    hyper = dict(args.hp)
    algo = args.algo or "ppo"
    steps = args.steps or (100_000 if algo == "ppo" else 50_000)
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
                               backend=args.backend, runners=args.runners)
    finally:
        if ray_started:
            import ray

            ray.shutdown()
    ev = metrics["evaluations"][-1]
    print(f"{metrics['algo']} on {metrics['env']}: {metrics['steps']} steps in {metrics['train_seconds']:.1f} s training "
          f"({metrics['wall_seconds']:.1f} s with evaluation); last evaluation {ev['mean']:.1f} ± {ev['std']:.1f} over "
          f"{args.eval_episodes} episodes, best {metrics['best_eval_mean']:.1f}")
    print(f"wrote {out / 'best.npz'}, {out / 'last.npz'}, {out / 'metrics.json'}, {out / 'curve.png'}")
    return 0
