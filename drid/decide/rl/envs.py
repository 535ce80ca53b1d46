"""Driving gymnasium environments directly (training and evaluation), with the same
episode-end semantics as the ``gym`` source: the transition that ends an episode carries its
final observation, and the copy is reset for its next step."""

from __future__ import annotations

from typing import Any

import numpy as np

from drid.sources.gym import make_env

__all__ = ["EnvBatch", "evaluate"]


class EnvBatch:
    """``n`` copies of one environment stepped together (copy k seeded ``seed + k``)."""

    def __init__(self, env_id: str, n: int, seed: int | None = 0, kwargs: dict[str, Any] | None = None) -> None:
        self.env_id = env_id
        self.envs = [make_env(env_id, kwargs) for _ in range(n)]
        self.n = n
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        obs = [e.reset(seed=None if seed is None else seed + k)[0] for k, e in enumerate(self.envs)]
        if seed is not None:
            for k, e in enumerate(self.envs):
                e.action_space.seed(seed + k)
        self.obs = np.stack([np.asarray(o, dtype=np.float64) for o in obs])
        self.returns = np.zeros(n)
        self.lengths = np.zeros(n, dtype=np.int64)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[tuple[float, int]]]:
        """Step every copy: ``(next_obs, rewards, terminated, truncated, finished)`` where
        ``next_obs`` holds final observations for the copies whose episode ended (those copies
        are reset: ``self.obs`` is their new first observation) and ``finished`` lists the ended
        episodes' (return, length)."""
        n = self.n
        nxt = np.empty_like(self.obs)
        rew = np.empty(n)
        term = np.zeros(n, bool)
        trunc = np.zeros(n, bool)
        finished = []
        self.obs = self.obs.copy()  # callers may still hold the previous array (and agents views of it)
        for k, env in enumerate(self.envs):
            o, r, te, tr, _ = env.step(actions[k])
            nxt[k] = o
            rew[k], term[k], trunc[k] = r, te, tr
            self.returns[k] += r
            self.lengths[k] += 1
            if te or tr:
                finished.append((float(self.returns[k]), int(self.lengths[k])))
                self.returns[k] = 0.0
                self.lengths[k] = 0
                self.obs[k] = env.reset()[0]
            else:
                self.obs[k] = o
        return nxt, rew, term, trunc, finished

    def close(self) -> None:
        for e in self.envs:
            e.close()


def evaluate(policy: Any, env_id: str, episodes: int = 100, seed: int = 10_000, kwargs: dict[str, Any] | None = None,
             parallel: int = 50) -> np.ndarray:
    """Returns of ``episodes`` episodes played by ``policy(obs[N, D]) → actions[N]`` (greedy),
    run ``parallel`` at a time; episode ``i`` starts from ``reset(seed=seed + i)``."""
    m = max(1, min(parallel, episodes))
    envs = [make_env(env_id, kwargs) for _ in range(m)]
    returns: list[float] = []
    next_episode = 0
    obs = np.zeros((m, envs[0].observation_space.shape[0]))
    active = np.zeros(m, bool)
    ret = np.zeros(m)
    for k in range(m):
        obs[k] = envs[k].reset(seed=seed + next_episode)[0]
        active[k] = True
        next_episode += 1
    while active.any():
        idx = np.flatnonzero(active)
        actions = np.asarray(policy(obs[idx]))
        for j, k in enumerate(idx.tolist()):
            o, r, te, tr, _ = envs[k].step(actions[j])
            ret[k] += r
            obs[k] = o
            if te or tr:
                returns.append(float(ret[k]))
                ret[k] = 0.0
                if next_episode < episodes:
                    obs[k] = envs[k].reset(seed=seed + next_episode)[0]
                    next_episode += 1
                else:
                    active[k] = False
    for e in envs:
        e.close()
    return np.array(returns)
