"""Reproduce drid/decide/models/carracing-ppo.npz: the policy ``drid demo driving`` drives with.

It is a policy of drid's PPO (continuous steering, gas, brake; Gaussian policy and value networks)
acting on ``CarRacingDriverState-v0`` (``drid.decide.driving``): CarRacing-v3 whose 96×96
picture goes through the ``road`` detector and the ``driving-state`` interpreter, so the policy
sees the driver's state the pipeline computes (offset, heading error, curvature, speed, off-road,
the road's centre ahead, dashboard steering and yaw rate).

The CPU budget of this project (CarRacing steps at 15..170 steps/s on its two shared cores) buys
tens of thousands of steps, where PPO from scratch needs about a million. So the policy network
learns to drive by imitating the hand-written ``driving-pd`` controller, with DAgger (Ross, Gordon
and Bagnell 2011): a first round of the controller driving with slow noise on its steering (so the
states include recoveries), then rounds in which the policy learnt so far drives (the controller
takes the wheel in a share of the steps, halved each round) and every state it reaches is
labelled with the controller's action; after each round the network is refitted on all the
states gathered (observation normalisation fitted to the first round's), and scored greedily on
episodes from seed 20000; the best round after the first is kept. Plain cloning copies the controller on its own path only, and small
errors at 120 m/s take the car where it has never been shown what to do; DAgger shows it.

``--steps N`` then trains PPO on the environment's reward from it (``finetune``) and keeps the
result only if it scores higher on the same selection episodes (seeds 20000...). Fine-tuning a
cloned policy with PPO as is lowers its return first (docs/driving.md): the value network starts
untrained, so the first updates follow noisy advantages. So it runs with PPO's fine-tuning options
(``FINETUNE``): rollouts that fit only the value network first, the policy's step a tenth of the
value network's and a narrow clip range, the cloned noise and observation statistics kept.
``--start PATH`` fine-tunes a DAgger checkpoint already made (e.g. the shipped one) instead of
running DAgger again. The kept policy is checked on ``--episodes`` episodes from seed 10000
(the benchmark's), into the card drid/decide/models/carracing-ppo.json; the learning curve goes
beside it (carracing-ppo-curve.png).

    .venv/bin/python scripts/train_driving_policy.py [--seed 0] [--rounds 3] [--round-steps 8000] [--steps 0] [--episodes 100]
        [--start DAGGER.npz] [--hyper KEY=VALUE ...] [--eval-every 10000] [--ft-eval-episodes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENV = "drid.sources.driving:CarRacingDriverState-v0"
MODELS = Path(__file__).resolve().parents[1] / "drid" / "decide" / "models"
#: PPO on an 16-number state with continuous actions: rl-zoo's usual continuous-control
#: settings (gamma 0.99, GAE 0.95, lr 3e-4, normalised observations and rewards), rollouts of
#: 4 copies x 250 steps (a quarter of an episode each), a narrow initial exploration noise so
#: that the car keeps moving.
N_ENVS = 4
HYPER: dict[str, Any] = {"n_envs": N_ENVS, "n_steps": 250, "batch_size": 250, "n_epochs": 10, "gamma": 0.99, "gae_lambda": 0.95, "learning_rate": 3e-4,
         "normalize_obs": True, "normalize_reward": True, "log_std_init": -0.7, "hidden": [64, 64]}
#: A cloned policy explores less: its noise would otherwise undo what it copied.
CLONED_LOG_STD = -1.6
#: PPO's options for fine-tuning the cloned policy on the reward (drid.decide.rl.ppo; set before
#: measuring them, from the fine-tuning literature): 10 rollouts (10,000 steps) fitting only the
#: value network while the cloned policy drives; then the policy steps at a tenth of the value
#: network's learning rate, inside a clip range of 0.1; the cloned noise (std 0.2) and the
#: observation statistics of the controller's states are kept (updating them moves every input the
#: policy was fitted on).
FINETUNE: dict[str, Any] = {"value_warmup": 10, "policy_lr_scale": 0.1, "clip_range": 0.1, "learn_log_std": False, "update_obs_norm": False}


def fit_actions(agent: Any, xn: np.ndarray, y: np.ndarray, epochs: int, rng: np.random.Generator, state: dict[str, Any]) -> np.ndarray:
    """Regress the policy network's mean action on ``y`` (mini-batches of 256, Adam 1e-3, the
    optimizer kept in ``state`` across calls); the mean squared error per action afterwards."""
    import keras
    import tensorflow as tf

    model = agent.pi.model
    if "step" not in state:
        optimizer = keras.optimizers.Adam(learning_rate=1e-3)

        @tf.function
        def step(xb: Any, yb: Any) -> Any:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(xb, training=True) - yb))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables, strict=True))
            return loss

        state["step"] = step
    order = np.arange(len(xn))
    for _ in range(epochs):
        rng.shuffle(order)
        for k in range(0, len(order), 256):
            idx = order[k : k + 256]
            state["step"](tf.constant(xn[idx]), tf.constant(y[idx]))
    agent.pi.changed()
    return np.asarray(np.mean(np.square(agent.pi.numpy_forward(xn) - y), axis=0))


def dagger(work: Path, iterations: int, steps: int, seed: int, eval_episodes: int) -> tuple[Path, dict[str, Any]]:
    """A PPO checkpoint whose policy imitates ``driving-pd``, by DAgger (see the module's docstring).

    Round 0: ``steps`` steps of the controller driving with slow noise on its steering. Round i:
    ``steps`` steps driven by the policy learnt so far, each copy handing the wheel to the
    controller with probability 0.5^i, every state labelled with the controller's action. After
    each round the network is refitted on everything gathered and scored greedily on
    ``eval_episodes`` episodes from seed 20000 (not the benchmark's 10000...); the best round
    after round 0 is kept (round 0, plain cloning, scored 923.0 on 3 episodes with seed 1 and
    then 856.8 ± 179.5 over 20, with crashes, where that run's round 3 scored 912.8 ± 16.0). Returns its path and the rounds' metrics (in ``train_policy``'s shape, for the curve)."""
    from drid.decide.driving import pd_actions
    from drid.decide.rl.envs import EnvBatch
    from drid.decide.rl.ppo import PPOAgent
    from drid.decide.rl.train import evaluate_policy, make_agent

    t0 = time.perf_counter()
    envs = EnvBatch(ENV, N_ENVS, seed=seed + 50_000)
    agent = make_agent("ppo", envs, **{**HYPER, "log_std_init": CLONED_LOG_STD, "seed": seed})
    assert isinstance(agent, PPOAgent) and agent.norm is not None
    rng = np.random.default_rng(seed)
    states: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    fit_state: dict[str, Any] = {}
    metrics: dict[str, Any] = {"algo": "dagger", "label": "DAgger", "env": ENV, "seed": seed, "episodes": [], "evaluations": [], "rounds": [], "reward_threshold": 900.0}
    done = 0
    best: tuple[float, Path] | None = None
    for rnd in range(iterations + 1):
        expert_share = 1.0 if rnd == 0 else 0.5**rnd
        noise = np.zeros(envs.n)
        for _ in range(max(1, steps // envs.n)):
            obs = envs.obs.copy()
            wanted = pd_actions(obs)
            if rnd == 0:
                noise = 0.9 * noise + rng.normal(0.0, 0.15, envs.n)  # a slow drift the controller must correct
                acted = wanted.copy()
                acted[:, 0] = np.clip(acted[:, 0] + noise, -1.0, 1.0)
            else:
                mine = agent.act(obs, deterministic=True)[0]
                acted = np.where((rng.random(envs.n) < expert_share)[:, None], wanted, mine)
            states.append(obs)
            labels.append(wanted)
            finished = envs.step(acted.astype(np.float32))[4]
            done += envs.n
            metrics["episodes"] += [{"step": done, "return": r} for r, _ in finished]
        x, y = np.concatenate(states), np.concatenate(labels).astype(np.float32)
        if rnd == 0:
            agent.norm.update(x)  # the normalisation stays fitted to the controller's own states
        mse = fit_actions(agent, agent.norm(x).astype(np.float32), y, 60 if rnd == 0 else 30, rng, fit_state)
        path = work / f"dagger-{rnd}.npz"
        agent.save(path, extra_meta={"env": ENV, "env_kwargs": {}, "cloned_steps": done, "dagger_round": rnd})
        score = evaluate_policy(path, ENV, episodes=eval_episodes, seed=20_000)
        metrics["evaluations"].append({"step": done, "mean": score["mean"], "std": score["std"]})
        metrics["rounds"].append({"round": rnd, "expert_share": expert_share, "env_steps": done, "samples": len(x),
                                  "mse": [round(float(v), 6) for v in mse], "eval": {k: score[k] for k in ("mean", "std", "min", "max", "returns")}})
        print(f"DAgger round {rnd}: {done} steps, {len(x)} samples, action MSE {np.round(mse, 5).tolist()}, "
              f"greedy {score['mean']:.1f} ± {score['std']:.1f} over {eval_episodes} episodes", file=sys.stderr, flush=True)
        if score["mean"] >= metrics["reward_threshold"] and "threshold_reached" not in metrics:
            metrics["threshold_reached"] = {"step": done, "mean": score["mean"]}
        if best is None or rnd == 1 or score["mean"] >= best[0]:  # round 0 (plain cloning) is kept only without later rounds
            best = (score["mean"], path)
    envs.close()
    assert best is not None
    metrics.update(steps=done, train_seconds=time.perf_counter() - t0, best_eval_mean=best[0], best=str(best[1]))
    return best[1], metrics


def finetune(start: Path, work: Path, steps: int, seed: int, eval_every: int, eval_episodes: int, hyper: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """PPO on the environment's reward for ``steps`` steps from the checkpoint ``start``, with
    the hyperparameter overrides ``hyper``; the greedy policy scored on ``eval_episodes``
    episodes from seed 20000 before training and every ``eval_every`` steps (not on the
    benchmark's seeds, as ``train_policy``'s evaluations are: that is why this loop is here).
    Returns the best-scoring checkpoint (``start`` itself when none scores higher) and the
    metrics (steps counted from ``start``)."""
    from drid.decide.rl.agent import load_agent
    from drid.decide.rl.envs import EnvBatch, evaluate

    t0 = time.perf_counter()
    agent = load_agent(start, **{"total_steps": steps, **hyper})
    meta = {k: v for k, v in agent.checkpoint_meta.items() if k in ("env", "env_kwargs", "cloned_steps", "dagger_round")}
    envs = EnvBatch(ENV, agent.config.n_envs, seed=seed + 60_000)
    metrics: dict[str, Any] = {"start": str(start), "hyper": hyper, "episodes": [], "evaluations": [], "updates": []}
    train_seconds = 0.0

    def score() -> float:
        returns = evaluate(lambda o: agent.act(o, deterministic=True)[0], ENV, eval_episodes, seed=20_000)
        ev = {"step": agent.steps, "mean": float(returns.mean()), "std": float(returns.std()), "min": float(returns.min()),
              "returns": returns.tolist(), "train_seconds": round(train_seconds, 1), "seconds": round(time.perf_counter() - t0, 1)}
        metrics["evaluations"].append(ev)
        below = int((returns < 900).sum())
        print(f"PPO fine-tuning: step {agent.steps}/{steps}: greedy {ev['mean']:.1f} ± {ev['std']:.1f} (min {ev['min']:.1f}, {below} below 900) "
              f"over {eval_episodes} episodes from seed 20000, {ev['seconds']:.0f} s", file=sys.stderr, flush=True)
        return ev["mean"]

    best = (score(), start)
    while agent.steps < steps:
        t1 = time.perf_counter()
        obs = envs.obs.copy()
        actions, extras = agent.act(obs)
        nxt, rew, term, trunc, finished = envs.step(actions)
        stats = agent.observe(obs, actions, rew, nxt, term, trunc, extras)
        train_seconds += time.perf_counter() - t1
        metrics["episodes"] += [{"step": agent.steps, "return": r} for r, _ in finished]
        if stats:
            metrics["updates"].append({"step": agent.steps, **{k: round(v, 5) for k, v in stats.items()}})
        warming = agent.updates <= agent.config.value_warmup  # the policy has not changed yet: nothing to score
        if (agent.steps % eval_every < envs.n and not warming) or agent.steps >= steps:
            path = agent.save(work / f"ppo-{agent.steps}.npz", extra_meta=meta)
            if score() > best[0]:
                best = (metrics["evaluations"][-1]["mean"], path)
    envs.close()
    metrics.update(steps=agent.steps, train_seconds=round(train_seconds, 1), seconds=round(time.perf_counter() - t0, 1),
                   start_eval_mean=metrics["evaluations"][0]["mean"], best_eval_mean=best[0], best=str(best[1]), kept=best[1] != start)
    return best[1], metrics


def main() -> int:
    from drid.decide.rl.train import evaluate_policy, plot_curve

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="DAgger rounds after the controller's own drive (0: plain behaviour cloning)")
    parser.add_argument("--round-steps", type=int, default=8000, help="environment steps gathered per round")
    parser.add_argument("--eval-episodes", type=int, default=3, help="episodes (from seed 20000) scoring each DAgger round")
    parser.add_argument("--steps", type=int, default=0, help="PPO steps on the environment's reward after imitation (0: none; kept only if it scores higher)")
    parser.add_argument("--eval-every", type=int, default=10_000, help="PPO steps between evaluations")
    parser.add_argument("--ft-eval-episodes", type=int, default=10, help="episodes (from seed 20000) of each PPO evaluation")
    parser.add_argument("--start", help="fine-tune this DAgger checkpoint (e.g. the shipped policy) instead of running DAgger")
    parser.add_argument("--hyper", action="append", default=[], metavar="KEY=VALUE", help="PPO fine-tuning override on top of FINETUNE (a JSON value)")
    parser.add_argument("--episodes", type=int, default=100, help="episodes (from seed 10000, the benchmark's) of the final check of the kept policy (0: none, and --out is not written)")
    parser.add_argument("--out", default=str(MODELS / "carracing-ppo.npz"))
    parser.add_argument("--work", default="out/driving-train", help="training folder (checkpoints, metrics, curve)")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    card: dict[str, Any] = {"env": ENV, "algo": "ppo", "trained_by": "DAgger on driving-pd", "seed": args.seed, "hyper": HYPER, "cloned_log_std": CLONED_LOG_STD}
    if args.start:
        kept = Path(args.start)
        imitated = int(read_meta(kept).get("cloned_steps", 0))
        metrics: dict[str, Any] = {"algo": "ppo", "label": "PPO fine-tuning", "env": ENV, "seed": args.seed, "episodes": [], "evaluations": [],
                                   "reward_threshold": 900.0, "steps": 0, "train_seconds": 0.0}
        card.update(started_from=str(args.start), imitation_steps=imitated)
    else:
        kept, metrics = dagger(work, args.rounds, args.round_steps, args.seed, args.eval_episodes)
        card.update(dagger=metrics["rounds"], imitation_steps=metrics["steps"])
    if args.steps > 0:
        hyper = {**FINETUNE, **{k: json.loads(v) for k, v in (h.split("=", 1) for h in args.hyper)}}
        before = kept
        kept, ppo = finetune(kept, work, args.steps, args.seed, args.eval_every, args.ft_eval_episodes, hyper)
        card["ppo"] = {k: ppo[k] for k in ("hyper", "steps", "train_seconds", "seconds", "start_eval_mean", "best_eval_mean", "kept")}
        card["ppo"]["evaluations"] = ppo["evaluations"]
        if kept != before:
            card["trained_by"] += f", then PPO on the reward for {int(read_meta(kept)['steps'])} steps"
        (work / "finetune.json").write_text(json.dumps(ppo, indent=1), encoding="utf-8")
        offset = metrics["steps"]
        metrics["evaluations"] += [{**e, "step": offset + e["step"]} for e in ppo["evaluations"]]
        metrics["episodes"] += [{**e, "step": offset + e["step"]} for e in ppo["episodes"]]
        metrics["steps"] = offset + ppo["steps"]
        metrics["label"] = "DAgger, then PPO on the reward" if not args.start else "PPO fine-tuning"
    metrics["train_seconds"] = time.perf_counter() - t0
    plot_curve(metrics, work / "curve.png")
    (work / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    if args.episodes == 0:  # a measuring run: no check on the benchmark's seeds, nothing written to --out
        print(f"{card['trained_by']}: {metrics['steps']} environment steps in {metrics['train_seconds']:.0f} s; kept {kept}")
        return 0
    result = evaluate_policy(kept, ENV, episodes=args.episodes)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kept, args.out)
    shutil.copyfile(work / "curve.png", Path(args.out).with_name(Path(args.out).stem + "-curve.png"))
    card.update({
        "env_steps": metrics["steps"], "train_seconds": round(metrics["train_seconds"], 1),
        "check": {k: result[k] for k in ("episodes", "seed", "mean", "std", "min", "max", "success_rate", "threshold", "returns")},
        "command": "scripts/train_driving_policy.py " + " ".join(sys.argv[1:]),
    })
    Path(args.out).with_suffix(".json").write_text(json.dumps(card, indent=1), encoding="utf-8")
    print(f"{card['trained_by']}: {card['env_steps']} environment steps in {metrics['train_seconds']:.0f} s; kept {kept.name}")
    print(f"{args.out}: {result['mean']:.1f} ± {result['std']:.1f} over {args.episodes} episodes (seeds {result['seed']}...), "
          f"{result['success_rate']:.0%} of them at least {result['threshold']:g}")
    return 0


def read_meta(path: Path) -> dict[str, Any]:
    from drid.decide.rl.common import read_checkpoint

    return read_checkpoint(path)[0]


if __name__ == "__main__":
    sys.exit(main())
