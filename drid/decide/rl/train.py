"""Training and evaluating policies by driving gymnasium environments directly (fast), with the
same agent classes the ``dqn`` / ``ppo`` plugins use inside pipelines."""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from drid.decide.rl.agent import Agent, imitation_steps, load_agent
from drid.decide.rl.common import drid_version
from drid.decide.rl.envs import EnvBatch, evaluate
from drid.errors import ConfigError

__all__ = ["AGENTS", "evaluate_policy", "make_agent", "train_policy"]


def _agents() -> dict[str, type[Agent[Any]]]:
    from drid.decide.rl.dqn import DQNAgent
    from drid.decide.rl.ppo import PPOAgent

    return {"dqn": DQNAgent, "ppo": PPOAgent}


AGENTS = ("dqn", "ppo")


def make_agent(algo: str, env: Any, **hyper: Any) -> Agent[Any]:
    kinds = _agents()
    if algo not in kinds:
        raise ConfigError(f"unknown algorithm '{algo}' (choose {' or '.join(kinds)})", path="algo")
    return kinds[algo].for_env(env, **hyper)


def train_policy(
    env_id: str,
    algo: str | None = "ppo",
    steps: int | None = 100_000,
    *,
    seed: int = 0,
    n_envs: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    hyper: dict[str, Any] | None = None,
    eval_every: int = 10_000,
    eval_episodes: int = 20,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool | str = True,
    stop_at: float | None = None,
    backend: str = "local",
    runners: int = 2,
    preset: str = "none",
) -> dict[str, Any]:
    """Train ``algo`` on ``env_id`` for ``steps`` environment steps.

    Every ``eval_every`` steps the greedy policy plays ``eval_episodes`` episodes (separate env
    copies, fixed seeds); the best one is saved as ``out/best.npz``. ``out`` also receives
    ``last.npz`` (resumable, with the replay buffer), ``metrics.json`` and ``curve.png``.
    ``stop_at`` ends training at the first evaluation whose mean return reaches it.
    ``progress``: ``True`` a progress bar on standard error, ``"lines"`` one plain line per
    evaluation there (for logs: what ``drid train policy`` prints when not on a terminal),
    ``False`` nothing.
    ``backend="ray"`` (PPO) steps the environments in ``runners`` Ray actors on the Ray cluster
    the caller has connected to (``drid train policy`` joins ``--address`` or starts a local one;
    see ``drid.decide.rl.distributed``); the learner is the same.
    ``preset="auto"`` starts from the shipped hyperparameters of ``env_id`` (``presets.yaml``,
    see :mod:`drid.decide.rl.presets`): ``algo=None`` then takes the environment's default
    algorithm, ``steps=None`` its budget, and ``n_envs`` and ``hyper`` override single values;
    ``"none"`` (the default of this function; ``drid train policy`` uses ``"auto"``) the agents'
    own defaults.
    Checkpoints record the environment id and kwargs, the preset, the reward threshold, the drid
    version and (PPO with ``normalize_obs``/``normalize_reward``) the normalisation statistics,
    so that ``evaluate_policy`` needs nothing repeated.
    Returns the metrics (also written as JSON): evaluations, training episodes, wall-clock
    seconds spent training (evaluation excluded) and in total, and the first evaluation that
    reached the threshold (``threshold_reached``: step and training seconds, or ``None``).
    """
    from drid.decide.rl.presets import resolve, reward_threshold

    hyper = dict(hyper or {})
    preset_name: str | None = None
    if resume is None:
        resolved = resolve(env_id, algo, steps, hyper, n_envs, preset)
        algo, steps, hyper, n_envs = resolved.algo, resolved.steps, resolved.hyper, None
        preset_name = resolved.preset
    elif steps is None:
        raise ConfigError("resuming needs the number of further steps", path="steps")
    assert steps is not None
    threshold, threshold_source = reward_threshold(env_id)
    if resume is not None:
        agent = load_agent(resume, **hyper)
        meta = agent.checkpoint_meta
        preset_name = meta.get("preset")
        if meta.get("env") and meta["env"] != env_id:
            raise ConfigError(f"checkpoint '{resume}' was trained on {meta['env']}, not {env_id}", path="resume")
        n = int(agent.config.n_envs)
        target_steps = agent.steps + steps
        if "total_steps" not in hyper:
            agent.config = agent.config.model_copy(update={"total_steps": target_steps})
    else:
        if n_envs is not None:
            hyper["n_envs"] = n_envs
        hyper.setdefault("total_steps", steps)
        hyper.setdefault("seed", seed)
        probe = EnvBatch(env_id, 1, seed=None, kwargs=env_kwargs)
        probe.close()
        agent = make_agent(algo or "ppo", probe, **hyper)
        n = int(agent.config.n_envs)
        target_steps = steps
    algo = agent.algo
    if backend not in ("local", "ray"):
        raise ConfigError(f"unknown backend '{backend}' (backends: local, ray)", path="backend")
    envs: Any
    if backend == "ray":
        from drid.decide.rl.distributed import RayRollouts

        if algo != "ppo":
            raise ConfigError("--backend ray distributes ppo's rollouts; dqn learns from every step as it acts", path="backend")
        envs = RayRollouts(env_id, agent, runners, seed=seed + agent.steps, env_kwargs=env_kwargs)
        stepper = envs.steps(agent)
    else:
        envs = EnvBatch(env_id, n, seed=seed + agent.steps, kwargs=env_kwargs)
        stepper = _local_steps(envs, agent)
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    extra_meta = {"env": env_id, "env_kwargs": env_kwargs or {}, "preset": preset_name, "reward_threshold": threshold,
                  "threshold_source": threshold_source, "drid_version": drid_version()}

    episodes: list[tuple[int, float, int]] = []
    evals: list[dict[str, Any]] = []
    recent: deque[float] = deque(maxlen=20)
    best = -np.inf
    train_seconds = 0.0
    eval_seconds = 0.0
    t_start = time.perf_counter()
    next_eval = (agent.steps // eval_every + 1) * eval_every
    last_stats: dict[str, float] = {}
    bar = None
    lines = progress == "lines"
    if progress and not lines:
        from tqdm import tqdm

        bar = tqdm(total=target_steps, initial=agent.steps, unit="step", desc=f"{algo} {env_id}", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

    def run_eval() -> float:
        nonlocal best, eval_seconds
        t0 = time.perf_counter()
        returns = evaluate(lambda o: agent.act(o, deterministic=True)[0], env_id, eval_episodes, kwargs=env_kwargs)
        eval_seconds += time.perf_counter() - t0
        mean = float(returns.mean())
        evals.append({"step": agent.steps, "mean": mean, "std": float(returns.std()), "min": float(returns.min()),
                      "max": float(returns.max()), "train_seconds": round(train_seconds, 3)})
        if mean > best:
            best = mean
            if out_dir is not None:
                agent.save(out_dir / "best.npz", extra_meta={**extra_meta, "eval_mean": mean, "eval_episodes": eval_episodes})
        return mean

    stopped_early = False
    reached: dict[str, Any] | None = None
    try:
        while agent.steps < target_steps:
            t0 = time.perf_counter()
            obs, actions, extras, nxt, rew, term, trunc, finished = next(stepper)
            stats = agent.observe(obs, actions, rew, nxt, term, trunc, extras)
            train_seconds += time.perf_counter() - t0
            if stats:
                last_stats = stats
            for ret, length in finished:
                episodes.append((agent.steps, ret, length))
                recent.append(ret)
            if bar is not None:
                bar.update(n)
            if agent.steps >= next_eval:
                next_eval += eval_every
                mean = run_eval()
                if reached is None and threshold is not None and mean >= threshold:
                    reached = {"step": agent.steps, "train_seconds": round(train_seconds, 3)}
                if bar is not None:
                    bar.set_postfix(ep_return=f"{np.mean(recent):.1f}" if recent else "-", eval=f"{mean:.1f}", best=f"{best:.1f}", refresh=False)
                if lines:
                    ev = evals[-1]
                    print(f"{algo} {env_id}: step {agent.steps}/{target_steps}: evaluation {ev['mean']:.1f} ± {ev['std']:.1f} "
                          f"(best {best:.1f}), training episodes {np.mean(recent) if recent else float('nan'):.1f}, "
                          f"{time.perf_counter() - t_start:.0f} s", file=sys.stderr, flush=True)
                if stop_at is not None and mean >= stop_at:
                    stopped_early = True
                    break
            elif bar is not None and finished:
                bar.set_postfix(ep_return=f"{np.mean(recent):.1f}", best=f"{best:.1f}" if evals else "-", refresh=False)
    except KeyboardInterrupt:
        print("interrupted: saving what was learned so far", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
        envs.close()
    if not evals or evals[-1]["step"] != agent.steps:
        if not stopped_early:
            mean = run_eval()
            if reached is None and threshold is not None and mean >= threshold:
                reached = {"step": agent.steps, "train_seconds": round(train_seconds, 3)}
    metrics = {
        "env": env_id,
        "algo": algo,
        "seed": seed,
        "steps": agent.steps,
        "updates": agent.updates,
        "config": agent.config.model_dump(),
        "train_seconds": round(train_seconds, 3),
        "eval_seconds": round(eval_seconds, 3),
        "wall_seconds": round(time.perf_counter() - t_start, 3),
        "backend": backend,
        "preset": preset_name,
        "reward_threshold": threshold,
        "threshold_reached": reached,
        "best_eval_mean": best,
        "evaluations": evals,
        "episodes": [{"step": s, "return": r, "length": length} for s, r, length in episodes],
        "last_update": last_stats,
    }
    if out_dir is not None:
        agent.save(out_dir / "last.npz", with_buffer=True, extra_meta=extra_meta)
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
        plot_curve(metrics, out_dir / "curve.png")
    metrics["agent"] = agent
    return metrics


def _local_steps(envs: EnvBatch, agent: Agent[Any]) -> Any:
    """Steps of the local environments, acted on by the agent's current policy."""
    while True:
        obs = envs.obs.copy()
        actions, extras = agent.act(obs)
        nxt, rew, term, trunc, finished = envs.step(actions)
        yield obs, actions, extras, nxt, rew, term, trunc, finished


def plot_curve(metrics: dict[str, Any], path: str | Path) -> Path:
    """Training episode returns (raw and a moving average), evaluation mean ± std and the reward
    threshold against environment steps; the title names ``metrics["label"]`` or the algorithm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    eps = metrics["episodes"]
    if eps:
        s = np.array([e["step"] for e in eps])
        r = np.array([e["return"] for e in eps])
        ax.plot(s, r, ".", ms=2, alpha=0.25, color="tab:blue", label="training episode return")
        k = max(1, min(20, len(r) // 5))
        if len(r) >= k:
            smooth = np.convolve(r, np.ones(k) / k, mode="valid")
            ax.plot(s[k - 1:], smooth, color="tab:blue", lw=1.5, label=f"moving average ({k} episodes)")
    ev = metrics["evaluations"]
    if ev:
        es = np.array([e["step"] for e in ev])
        em = np.array([e["mean"] for e in ev])
        sd = np.array([e["std"] for e in ev])
        ax.errorbar(es, em, yerr=sd, fmt="o-", color="tab:red", capsize=3, lw=1.5, label="evaluation mean ± std (greedy)")
    if metrics.get("reward_threshold") is not None:
        reached = metrics.get("threshold_reached")
        label = f"threshold {metrics['reward_threshold']:g}" + (f" (first reached at {reached['step']:,} steps)" if reached else " (not reached)")
        ax.axhline(metrics["reward_threshold"], color="tab:green", ls="--", lw=1, label=label)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(f"{metrics.get('label') or metrics['algo'].upper()} on {metrics['env']} (seed {metrics['seed']}, {metrics['train_seconds']:.0f} s training)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def evaluate_policy(path: str | Path, env_id: str | None = None, episodes: int = 100, seed: int = 10_000,
                    env_kwargs: dict[str, Any] | None = None, threshold: float | None = None) -> dict[str, Any]:
    """Greedy returns of a saved policy over ``episodes`` episodes, episode ``i`` from
    ``reset(seed=seed + i)``: mean ± std and the success rate (share of episodes whose return
    reaches the threshold). Environment, its kwargs and the threshold come from the checkpoint
    (older checkpoints: the shipped preset, else gymnasium's ``reward_threshold``) unless given;
    the observation and action sizes must fit the environment."""
    from drid.decide.rl.common import read_checkpoint, registered_env_id
    from drid.decide.rl.presets import reward_threshold
    from drid.sources.gym import make_env

    meta, _ = read_checkpoint(path)  # checked before anything is built from it
    if not env_id:
        if not meta.get("env"):
            raise ConfigError(f"checkpoint '{path}' does not say which environment it was trained on: give --env", path="env")
        env_id = registered_env_id(meta["env"], f"policy checkpoint '{path}'")  # never a module the file names
    agent = load_agent(path)
    kwargs = env_kwargs if env_kwargs is not None else meta.get("env_kwargs") or {}
    probe = make_env(env_id, kwargs)
    check_fits(agent, probe.observation_space, probe.action_space, f"policy '{path}' on {env_id}")
    probe.close()
    if threshold is not None:
        source = "given"
    elif meta.get("reward_threshold") is not None and (meta.get("env") == env_id):
        threshold, source = float(meta["reward_threshold"]), str(meta.get("threshold_source") or "the checkpoint")
    else:
        threshold, source = reward_threshold(env_id)
    t0 = time.perf_counter()
    returns = evaluate(lambda o: agent.act(o, deterministic=True)[0], env_id, episodes, seed=seed, kwargs=kwargs)
    mean = float(returns.mean())
    success = None if threshold is None else float((returns >= threshold).mean())
    return {"env": env_id, "env_kwargs": kwargs, "policy": str(path), "algo": agent.algo, "episodes": episodes, "seed": seed,
            "mean": mean, "std": float(returns.std()), "min": float(returns.min()), "max": float(returns.max()),
            "threshold": threshold, "threshold_source": source, "success_rate": success,
            "solved": None if threshold is None else mean >= threshold,
            "steps_trained": int(meta.get("steps", 0)), "imitation_steps": imitation_steps(meta), "preset": meta.get("preset"), "drid_version": meta.get("drid_version"),
            "normalize_obs": bool(meta.get("config", {}).get("normalize_obs", False)),
            "returns": returns.tolist(), "seconds": round(time.perf_counter() - t0, 3)}


def check_fits(agent: Agent[Any], observation_space: Any, action_space: Any, where: str) -> None:
    """``ConfigError`` when the agent's observation or action size does not fit the spaces."""
    from drid.decide.rl.common import ActionSpec, observation_dim

    dim = observation_dim(observation_space)
    if dim != agent.obs_dim:
        raise ConfigError(f"{where}: the policy takes observations of length {agent.obs_dim}, the environment gives {dim}")
    spec = ActionSpec.of(action_space)
    if spec.kind != agent.action.kind or spec.dim != agent.action.dim:
        raise ConfigError(f"{where}: action-space mismatch: the policy outputs {agent.action.describe()}, the environment takes {action_space}")
