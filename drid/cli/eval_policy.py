"""``drid eval policy``: mean ± std return of a saved policy over N greedy episodes (the command
line of :func:`drid.decide.rl.train.evaluate_policy`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from drid.cli._args import json_object, positive_int


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "policy", help="evaluate a saved policy: mean ± std return over N episodes",
        description="Play N greedy episodes with a saved DQN or PPO policy and report the mean ± std return.")
    p.add_argument("policy", help="checkpoint written by 'drid train policy' (best.npz, last.npz) or a policy plugin's 'save'")
    p.add_argument("--env", default=None, help="environment id (default: the one the policy was trained on)")
    p.add_argument("--episodes", type=positive_int, default=100, help="episodes (default: 100)")
    p.add_argument("--seed", type=int, default=10_000, help="episode i starts from reset(seed=SEED+i)")
    p.add_argument("--env-kwargs", type=json_object, default=None, metavar="JSON")
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
