"""PPO with its environments on Ray: rollout runners as Ray actors feeding one learner.

Each ``RolloutRunner`` actor holds a slice of the environment copies and an acting copy of the
policy. For every rollout the learner sends the current policy (weights, log-std, observation
statistics) once; each runner plays ``n_steps`` steps of its copies with it and returns the
rollout; the learner concatenates the slices along the environment axis and feeds them to the
same ``PPOAgent.observe`` the local trainer uses, which updates at the rollout's end. PPO acts
with fixed weights within a rollout, so this is the local algorithm, with the stepping spread
over processes and machines: worth it when environment steps are expensive (physics, pixels);
for a cheap environment such as CartPole the round trips cost more than they save (see
``benchmarks/scale.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from drid.errors import ConfigError, DridError

__all__ = ["RayRollouts", "RolloutRunner", "policy_state"]

Step = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[tuple[float, int]]]


def policy_state(agent: Any) -> dict[str, Any]:
    """What a runner needs to act like ``agent``: network weights, log-std, observation stats."""
    state: dict[str, Any] = {"pi": agent.pi.weights(), "vf": agent.vf.weights()}
    if agent.log_std is not None:
        state["log_std"] = np.asarray(agent.log_std)
    if agent.norm is not None:
        state["norm"] = agent.norm.state()
    return state


class RolloutRunner:
    """A Ray actor: ``n`` copies of an environment (seeded ``seed``, ``seed + 1``, …) and a PPO
    policy that acts on them with the weights each rollout brings."""

    def __init__(self, env_id: str, n: int, seed: int, env_kwargs: dict[str, Any] | None, config: dict[str, Any], obs_dim: int, action: dict[str, Any]) -> None:
        from drid.decide.rl.common import ActionSpec
        from drid.decide.rl.envs import EnvBatch
        from drid.decide.rl.ppo import PPOAgent

        self.envs = EnvBatch(env_id, n, seed=seed, kwargs=env_kwargs)
        self.agent = PPOAgent(obs_dim, ActionSpec.from_dict(action), **{**config, "n_envs": n, "batch_size": 1, "seed": seed})

    def rollout(self, state: dict[str, Any], n_steps: int) -> dict[str, Any]:
        agent = self.agent
        agent.pi.set_weights(state["pi"])
        agent.vf.set_weights(state["vf"])
        if agent.log_std is not None:
            agent.log_std.assign(state["log_std"].astype(np.float32))
        if agent.norm is not None:
            agent.norm.load(state["norm"])
        steps: dict[str, list[Any]] = {k: [] for k in ("obs", "actions", "raw", "logp", "nobs", "value", "next", "reward", "terminated", "truncated")}
        finished: list[list[tuple[float, int]]] = []
        for _ in range(n_steps):
            obs = self.envs.obs.copy()
            actions, extras = agent.act(obs)
            nxt, rew, term, trunc, done = self.envs.step(actions)
            for key, value in (("obs", obs), ("actions", actions), ("raw", extras["raw"]), ("logp", extras["logp"]), ("nobs", extras["obs"]),
                               ("value", extras["value"]), ("next", nxt), ("reward", rew), ("terminated", term), ("truncated", trunc)):
                steps[key].append(value)
            finished.append(done)
        out: dict[str, Any] = {k: np.stack(v) for k, v in steps.items()}
        out["finished"] = finished
        return out


class RayRollouts:
    """The learner's side: runners started on the connected Ray cluster, ``steps(agent)`` yields
    the steps of each distributed rollout in the order ``PPOAgent.observe`` expects."""

    def __init__(self, env_id: str, agent: Any, runners: int, *, seed: int = 0, env_kwargs: dict[str, Any] | None = None, cpus_per_runner: float = 1.0) -> None:
        import ray

        if getattr(agent, "algo", "") != "ppo":
            raise ConfigError("distributed rollouts are for ppo (dqn learns from every step as it acts)", path="backend")
        n_envs = int(agent.config.n_envs)
        if runners < 1 or runners > n_envs:
            raise ConfigError(f"runners must be between 1 and n_envs ({n_envs}), got {runners}", path="runners")
        if not ray.is_initialized():
            raise DridError("Ray is not initialised: connect first (drid.pipeline.backends.ray_backend.connect)")
        sizes = [n_envs // runners + (1 if k < n_envs % runners else 0) for k in range(runners)]
        offsets = np.cumsum([0, *sizes[:-1]])
        remote: Any = ray.remote(RolloutRunner).options(num_cpus=cpus_per_runner)
        config = agent.config.model_dump()
        self.runners = [remote.remote(env_id, n, seed + int(o), env_kwargs, config, agent.obs_dim, agent.action.as_dict()) for n, o in zip(sizes, offsets)]
        self.n_steps = int(agent.config.n_steps)

    def rollout(self, agent: Any) -> list[Step]:
        """One rollout of every runner, as ``n_steps`` steps over all environment copies."""
        import ray

        state = ray.put(policy_state(agent))
        parts = ray.get([r.rollout.remote(state, self.n_steps) for r in self.runners])
        cat = {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0] if k != "finished"}
        steps: list[Step] = []
        for t in range(self.n_steps):
            extras = {"raw": cat["raw"][t], "logp": cat["logp"][t], "obs": cat["nobs"][t], "value": cat["value"][t]}
            finished = [ep for p in parts for ep in p["finished"][t]]
            steps.append((cat["obs"][t], cat["actions"][t], extras, cat["next"][t], cat["reward"][t], cat["terminated"][t], cat["truncated"][t], finished))
        return steps

    def steps(self, agent: Any) -> Iterator[Step]:
        while True:
            yield from self.rollout(agent)

    def close(self) -> None:
        import ray

        for r in self.runners:
            ray.kill(r)
