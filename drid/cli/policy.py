"""``drid train policy`` and ``drid eval policy``.

``drid.cli.policy`` adds ``drid train policy``; ``drid.cli.policy`` adds ``drid eval policy``
(the CLI calls each module's ``register(subparsers)``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from drid.cli import key_value, positive_int
from drid.errors import ConfigError

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


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, e.g. '{\"max_episode_steps\": 200}'")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "policy", help="train a DQN or PPO policy on a gymnasium environment",
        description="Train a DQN or PPO policy (TensorFlow) on any gymnasium environment with a Box observation "
                    "and Discrete actions (PPO: also Box actions), with periodic greedy evaluation.",
        epilog=TRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", required=True, help="gymnasium environment id, e.g. CartPole-v1")
    p.add_argument("--algo", choices=["ppo", "dqn"], default="ppo", help="algorithm (default: ppo)")
    p.add_argument("--steps", type=positive_int, default=None, help="environment steps (default: 100000 for ppo, 50000 for dqn)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-envs", type=positive_int, default=None, help="environments stepped together (default: ppo 8, dqn 1)")
    p.add_argument("--hp", action="append", type=key_value, default=[], metavar="KEY=VALUE", help="hyperparameter override, repeatable (see drid.decide.rl.ppo.PPOConfig / drid.decide.rl.dqn.DQNConfig)")
    p.add_argument("--env-kwargs", type=_json_object, default=None, metavar="JSON", help="keyword arguments for gymnasium.make")
    p.add_argument("--eval-every", type=positive_int, default=10_000, metavar="STEPS", help="evaluate every STEPS steps (default: 10000)")
    p.add_argument("--eval-episodes", type=positive_int, default=20, metavar="N", help="episodes per evaluation (default: 20)")
    p.add_argument("--stop-at", type=float, default=None, metavar="RETURN", help="stop at the first evaluation reaching this mean return")
    p.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue training from a checkpoint (last.npz) for --steps more")
    p.add_argument("--out", default=None, help="output folder (default: out/policy-ALGO-ENV)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--backend", choices=["local", "ray"], default="local", help="'ray': ppo's environments stepped by Ray actors (needs drid[ray])")
    p.add_argument("--runners", type=positive_int, default=2, metavar="N", help="Ray rollout runners sharing the n-envs copies (default: 2)")
    p.add_argument("--address", default=None, metavar="ADDR", help="Ray cluster to join (default: a local one)")
    p.set_defaults(handler=cmd_train_policy)


def cmd_train_policy(args: argparse.Namespace) -> int:
    from drid.decide.rl.train import train_policy

    hyper = dict(args.hp)
    steps = args.steps or (100_000 if args.algo == "ppo" else 50_000)
    out = Path(args.out or f"out/policy-{args.algo}-{args.env.replace('/', '_')}")
    metrics = train_policy(args.env, args.algo, steps, seed=args.seed, n_envs=args.n_envs, env_kwargs=args.env_kwargs,
                           hyper=hyper, eval_every=args.eval_every, eval_episodes=args.eval_episodes, out=out,
                           resume=args.resume, progress=not args.no_progress and sys.stderr.isatty(), stop_at=args.stop_at,
                           backend=args.backend, runners=args.runners, address=args.address)
    ev = metrics["evaluations"][-1]
    print(f"{metrics['algo']} on {metrics['env']}: {metrics['steps']} steps in {metrics['train_seconds']:.1f} s training "
          f"({metrics['wall_seconds']:.1f} s with evaluation); last evaluation {ev['mean']:.1f} ± {ev['std']:.1f} over "
          f"{args.eval_episodes} episodes, best {metrics['best_eval_mean']:.1f}")
    print(f"wrote {out / 'best.npz'}, {out / 'last.npz'}, {out / 'metrics.json'}, {out / 'curve.png'}")
    return 0


def register_eval(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "policy", help="evaluate a saved policy: mean ± std return over N episodes",
        description="Play N greedy episodes with a saved DQN or PPO policy and report the mean ± std return.")
    p.add_argument("policy", help="checkpoint written by 'drid train policy' (best.npz, last.npz) or a policy plugin's 'save'")
    p.add_argument("--env", default=None, help="environment id (default: the one the policy was trained on)")
    p.add_argument("--episodes", type=positive_int, default=100, help="episodes (default: 100)")
    p.add_argument("--seed", type=int, default=10_000, help="episode i starts from reset(seed=SEED+i)")
    p.add_argument("--env-kwargs", type=_json_object, default=None, metavar="JSON")
    p.add_argument("--json", action="store_true", help="print the result as JSON (with every return)")
    p.set_defaults(handler=cmd_eval_policy)


def cmd_eval_policy(args: argparse.Namespace) -> int:
    from drid.decide.rl.train import evaluate_policy

    result = evaluate_policy(args.policy, args.env, args.episodes, seed=args.seed, env_kwargs=args.env_kwargs)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"{result['algo']} policy {result['policy']} on {result['env']}: return {result['mean']:.2f} ± {result['std']:.2f} "
              f"over {result['episodes']} episodes (min {result['min']:.1f}, max {result['max']:.1f})")
    return 0


__all__ = ["ConfigError", "register", "register_eval"]
