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
        description="Play N greedy episodes with a saved DQN or PPO policy (episode i from reset(seed=SEED+i)) and report the "
                    "mean ± std return and the success rate against the environment's reward threshold. The environment, its "
                    "kwargs, the threshold and the normalisation statistics come from the checkpoint.")
    p.add_argument("policy", help="checkpoint written by 'drid train policy' (best.npz, last.npz) or a policy plugin's 'save'")
    p.add_argument("--env", default=None, help="environment id (default: the one the policy was trained on)")
    p.add_argument("--episodes", type=positive_int, default=100, help="episodes (default: 100)")
    p.add_argument("--seed", type=int, default=10_000, help="episode i starts from reset(seed=SEED+i)")
    p.add_argument("--env-kwargs", type=json_object, default=None, metavar="JSON", help="gymnasium.make kwargs (default: the checkpoint's)")
    p.add_argument("--threshold", type=float, default=None, metavar="RETURN",
                   help="return counted as a success (default: the checkpoint's, else the shipped preset's, else gymnasium's reward_threshold)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (with every return)")
    p.set_defaults(handler=cmd_eval_policy)


def cmd_eval_policy(args: argparse.Namespace) -> int:
    from drid.decide.rl.train import evaluate_policy

    result = evaluate_policy(args.policy, args.env, args.episodes, seed=args.seed, env_kwargs=args.env_kwargs, threshold=args.threshold)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{result['algo']} policy {result['policy']} on {result['env']}: return {result['mean']:.2f} ± {result['std']:.2f} "
          f"over {result['episodes']} episodes (seeds {args.seed}..{args.seed + result['episodes'] - 1}; min {result['min']:.1f}, max {result['max']:.1f})")
    if result["threshold"] is None:
        print(f"success rate: not defined ({result['threshold_source']}; give --threshold RETURN)")
    else:
        verdict = "solved: the mean reaches" if result["solved"] else "not solved: the mean is below"
        print(f"success rate {100 * result['success_rate']:.0f} % (episodes with return >= {result['threshold']:g}, {result['threshold_source']}); "
              f"{verdict} the threshold")
    imitated = result.get("imitation_steps")
    trained = f"trained by imitation on {imitated:,} environment steps (no reward)" if imitated else f"trained {result['steps_trained']:,} steps"
    trained += f" with preset {result['preset']}" if result["preset"] else " without a shipped preset"
    trained += f", drid {result['drid_version']}" if result["drid_version"] else " (checkpoint from before drid recorded its version)"
    print(trained + (", observation normalisation from the checkpoint" if result["normalize_obs"] else ""))
    return 0
