"""Decide-stage policies for closed loops: ``random`` (the baseline), ``dqn`` and ``ppo``.

``dqn`` and ``ppo`` wrap the agents of ``drid.decide.rl`` (the same classes ``drid train policy``
trains): they act on ``frame.observation`` (or ``scene.features``, for a pipeline whose
interpret stage estimates the state, as in ``drid demo cartpole``) and learn from the
transitions the ``gym`` source hands back through ``drid_learn``. Give ``policy`` to start from a
saved checkpoint, ``env`` to size a fresh agent for an environment, ``save`` to keep what was
learned when the run ends.

With a source of ``num_envs`` interleaved copies, set the policy's ``num_envs`` to the same
number: PPO learns from rollouts of all copies, one row per round of frames.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from drid.errors import ConfigError
from drid.pipeline.context import RunContext, RunSummary
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import InputPath, Plugin, PluginParams
from drid.schemas import Decision, Frame, Scene, Transition

__all__ = ["DQNPolicy", "PPOPolicy", "RandomPolicy"]


class RandomPolicy(Plugin):
    """Uniformly random actions: from an environment's action space or a list of choices."""

    drid_name = "random"

    class Params(PluginParams):
        env: str | None = Field(default=None, description="gymnasium id whose action space to sample (e.g. CartPole-v1)")
        actions: list[Any] | None = Field(default=None, description="choices to pick from instead, e.g. [0, 1] or [GO, STOP]")
        seed: int | None = Field(default=0, description="random seed; null for unseeded")

        @model_validator(mode="after")
        def _one(self) -> RandomPolicy.Params:
            if (self.env is None) == (self.actions is None):
                raise ValueError("give exactly one of 'env' (sample its action space) or 'actions' (a list of choices)")
            if self.actions is not None and not self.actions:
                raise ValueError("'actions' is empty")
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._space: Any = None
        self._rng = np.random.default_rng(self.params.seed)

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self._rng = np.random.default_rng(self.params.seed)
        if self.params.env is not None:
            from drid.sources.gym import make_env

            env = make_env(self.params.env)
            self._space = env.action_space
            env.close()
            self._space.seed(self.params.seed)

    @hookimpl
    def drid_decide(self, frame: Frame, scene: Scene) -> Decision:
        if self._space is not None:
            action = self._space.sample()
        else:
            assert self.params.actions is not None
            action = self.params.actions[int(self._rng.integers(len(self.params.actions)))]
        return Decision(action=action, rationale="random baseline: action drawn uniformly")


class _AgentPolicy(Plugin):
    """Shared by ``dqn`` and ``ppo``: loading or building the agent, acting, learning, saving."""

    algo = ""

    class Params(PluginParams):
        policy: Annotated[str | None, InputPath()] = Field(
            default=None, description="checkpoint (.npz) to start from, written by 'drid train policy' or 'save'")
        env: str | None = Field(default=None, description="gymnasium id to size a fresh agent for (needed without 'policy'; checked against it otherwise)")
        learn: bool = Field(default=True, description="update the policy from the transitions of a closed loop")
        explore: bool | None = Field(default=None, description="sample exploratory actions (default: when learning); false = greedy")
        observation: Literal["auto", "observation", "features"] = Field(default="auto", description="act on frame.observation, scene.features, or auto (features when present)")
        num_envs: int = Field(default=1, ge=1, description="copies the gym source interleaves (PPO rollouts have one row per round)")
        hyper: dict[str, Any] = Field(default_factory=dict, description="hyperparameters of a fresh agent (see drid.decide.rl.dqn.DQNConfig / drid.decide.rl.ppo.PPOConfig)")
        save: str | None = Field(default=None, description="write the policy here when the run ends (.npz)")
        action_names: list[str] | None = Field(default=None, description="words for the discrete actions in rationales, e.g. [push left, push right]")

        @model_validator(mode="after")
        def _source(self) -> _AgentPolicy.Params:
            if self.policy is None and self.env is None:
                raise ValueError("give 'policy' (a saved checkpoint) or 'env' (to build a fresh agent for that environment)")
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.explore = self.params.learn if self.params.explore is None else self.params.explore
        self.agent: Any = None
        self._pending: dict[int, tuple[np.ndarray, Any, dict[str, np.ndarray], bool]] = {}
        self._row: dict[int, tuple[Transition, dict[str, np.ndarray]]] = {}
        self.last_stats: dict[str, float] | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        from drid.decide.rl.agent import load_agent
        from drid.decide.rl.train import check_fits, make_agent
        from drid.sources.gym import make_env

        if self.agent is None:
            if self.params.policy is not None:
                self.agent = load_agent(self.params.policy, **self.params.hyper)
                if self.agent.algo != self.algo:
                    raise ConfigError(f"'{self.params.policy}' is a {self.agent.algo} policy, not {self.algo}", path="policy")
            else:
                assert self.params.env is not None
                env = make_env(self.params.env)
                try:
                    self.agent = make_agent(self.algo, env, **{"n_envs": self.params.num_envs, **self.params.hyper})
                finally:
                    env.close()
        if self.params.env is not None and self.params.policy is not None:
            env = make_env(self.params.env)
            try:
                check_fits(self.agent, env.observation_space, env.action_space, f"{self.algo} policy '{self.params.policy}' on {self.params.env}")
            finally:
                env.close()
        n = int(getattr(self.agent.config, "n_envs", 1))
        if self.params.learn and self.algo == "ppo" and n != self.params.num_envs:
            self.agent.config = self.agent.config.model_copy(update={"n_envs": self.params.num_envs})
            self.agent._alloc()
        self._pending.clear()
        self._row.clear()

    @hookimpl
    def drid_stop(self, summary: RunSummary) -> None:
        if self.agent is None:
            return
        if self.params.learn:
            summary.notes.append(f"{self.algo}: learned from {self.agent.steps} steps in total, {self.agent.updates} updates")
        else:
            from drid.decide.rl.agent import imitation_steps

            imitated = imitation_steps(self.agent.checkpoint_meta)
            how = f"trained by imitation on {imitated} environment steps, no reward" if imitated else f"trained on {self.agent.steps} steps"
            summary.notes.append(f"{self.algo}: acted without learning (policy {how})")
        if self.params.save:
            path = self.agent.save(self.params.save)
            summary.notes.append(f"{self.algo}: policy saved to {path}")

    # -- deciding -------------------------------------------------------------------------------
    def _observation(self, frame: Frame, scene: Scene) -> tuple[np.ndarray, bool]:
        use_features = self.params.observation == "features" or (self.params.observation == "auto" and scene.features is not None)
        vec = scene.features if use_features else frame.observation
        if vec is None:
            what = "scene.features (no interpreter produced them)" if use_features else "frame.observation (the source gives none)"
            raise ValueError(f"nothing to act on: {what}")
        return np.asarray(vec, dtype=np.float64).ravel(), use_features

    def _explain(self, obs: np.ndarray, action: Any) -> tuple[str, float | None, dict[str, Any]]:
        return f"{self.algo}", None, {}

    @hookimpl
    def drid_decide(self, frame: Frame, scene: Scene) -> Decision:
        obs, from_features = self._observation(frame, scene)
        obs2 = self.agent.check_observation(obs)
        actions, extras = self.agent.act(obs2, deterministic=not self.explore)
        action = actions[0]
        index = frame.meta.get("env_index", 0)
        k = index if isinstance(index, int) else 0
        if self.params.learn:
            self._pending[k] = (obs, action, {key: v[:1] for key, v in extras.items()}, from_features)
        rationale, confidence, info = self._explain(obs2, action)
        source = "estimated state" if from_features else "observation"
        info[source.replace(" ", "_")] = np.round(obs, 4).tolist()
        info["mode"] = "exploring" if self.explore else "greedy"
        return Decision(action=action, rationale=f"{rationale} on the {source}", confidence=confidence, info=info)

    def _name(self, action: Any) -> str:
        if self.params.action_names and isinstance(action, (int, np.integer)) and 0 <= int(action) < len(self.params.action_names):
            return f"{self.params.action_names[int(action)]} ({int(action)})"
        return f"action {action}"

    # -- learning -------------------------------------------------------------------------------
    @hookimpl
    def drid_learn(self, transition: Transition) -> None:
        if not self.params.learn:
            return
        k = transition.env_index
        if k >= self.params.num_envs:
            raise ValueError(f"transition from env copy {k}, but num_envs is {self.params.num_envs}; set the policy's num_envs to the source's")
        pending = self._pending.pop(k, None)
        if pending is None:
            raise RuntimeError(f"a transition of env copy {k} arrived without a decision of this policy before it")
        obs, action, extras, from_features = pending
        if from_features:
            raise ValueError("learning acts on the environment's observations; a policy acting on scene features must run with learn: false")
        self._row[k] = (transition, extras)
        if len(self._row) < self.params.num_envs:
            return
        rows = [self._row[i][0] for i in range(self.params.num_envs)]
        batch = {key: np.concatenate([self._row[i][1][key] for i in range(self.params.num_envs)]) for key in extras}
        self._row.clear()
        stats = self.agent.observe(
            np.stack([np.asarray(r.observation, dtype=np.float64) for r in rows]),
            np.array([np.asarray(r.action, dtype=np.float64) if isinstance(r.action, tuple) else r.action for r in rows]),
            np.array([r.reward for r in rows]),
            np.stack([np.asarray(r.next_observation, dtype=np.float64) for r in rows]),
            np.array([r.terminated for r in rows]),
            np.array([r.truncated for r in rows]),
            batch,
        )
        if stats:
            self.last_stats = stats


class DQNPolicy(_AgentPolicy):
    """Double DQN (TensorFlow): acts greedily or epsilon-greedily on Q-values, learns from replay."""

    algo = drid_name = "dqn"

    def _explain(self, obs: np.ndarray, action: Any) -> tuple[str, float | None, dict[str, Any]]:
        q = self.agent.q_values(obs)[0]
        return f"dqn: {self._name(int(action))}, highest Q {q[int(action)]:.2f},", None, {"q": np.round(q, 4).tolist()}


class PPOPolicy(_AgentPolicy):
    """PPO (TensorFlow): samples or takes the most likely action of its policy network; learns from rollouts."""

    algo = drid_name = "ppo"

    def _explain(self, obs: np.ndarray, action: Any) -> tuple[str, float | None, dict[str, Any]]:
        agent = self.agent
        if agent.continuous:
            return "ppo: Gaussian policy mean", None, {}
        logits = agent.pi.numpy_forward(agent._prep(obs))[0]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        return f"ppo: {self._name(int(action))}, p={p[int(action)]:.2f},", float(np.clip(p[int(action)], 0, 1)), {"probabilities": np.round(p, 4).tolist()}
