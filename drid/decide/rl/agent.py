"""What DQN and PPO share: construction from gymnasium spaces, acting on batches of
observations, learning from batches of transitions, and save / load / resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast

import numpy as np
from pydantic import BaseModel, ValidationError

from drid.decide.rl.common import ActionSpec, CheckpointError, Mlp, drid_version, observation_dim, read_checkpoint, write_checkpoint
from drid.errors import ConfigError, close_matches, validation_message

__all__ = ["Agent", "imitation_steps", "load_agent"]

#: The hyperparameter model of an agent (``DQNConfig``, ``PPOConfig``).
ConfigT = TypeVar("ConfigT", bound=BaseModel)


class Agent(Generic[ConfigT]):
    """A learning policy over flat observations, generic over its hyperparameter model: a
    subclass is ``class DQNAgent(Agent[DQNConfig])`` with ``Config = DQNConfig``, and
    ``self.config`` is then typed as that model.

    * ``act(obs[N, D], deterministic)`` → ``(actions, extras)``: actions ready for ``env.step``,
      ``extras`` what the learner must get back with the transition (log-probabilities, values).
    * ``observe(obs, actions, rewards, next_obs, terminated, truncated, extras)``: one step of
      ``N`` environments; the agent updates itself when it chooses and then returns its training
      statistics (else ``None``). ``next_obs`` is the *final* observation for episodes that ended.
    * ``save(path)`` / ``load_agent(path)``: weights, optimiser state, normalisation and step
      counts, so that training resumes where it stopped.
    """

    algo: ClassVar[str] = ""
    #: The hyperparameter model; a ClassVar cannot name ``ConfigT``, so ``_validate`` narrows it.
    Config: ClassVar[type[BaseModel]]
    config: ConfigT

    def __init__(self, obs_dim: int, action: ActionSpec, config: BaseModel | None = None, **overrides: Any) -> None:
        self.config = self._validate({**(config.model_dump() if config is not None else {}), **overrides})
        self.obs_dim = int(obs_dim)
        self.action = action
        self.steps = 0
        self.updates = 0
        self.checkpoint_meta: dict[str, Any] = {}
        self.rng = np.random.default_rng(getattr(self.config, "seed", None))

    def _validate(self, values: dict[str, Any]) -> ConfigT:
        """``values`` as this agent's ``Config``, or a ``ConfigError`` naming the hyperparameter."""
        try:
            return cast(ConfigT, self.Config.model_validate(values))
        except ValidationError as exc:
            key, msg = validation_message(exc)
            if exc.errors()[0]["type"] == "extra_forbidden":
                known = list(self.Config.model_fields)
                hint = close_matches(key, known) or f" (known: {', '.join(known)})"
                raise ConfigError(f"{self.algo}: unknown hyperparameter '{key}'{hint}") from None
            raise ConfigError(f"{self.algo}: hyperparameter {key}: {msg}" if key else f"{self.algo}: {msg}") from None

    @classmethod
    def for_env(cls, env: Any, **overrides: Any) -> Agent[Any]:
        """An agent sized for a gymnasium env (or vector env's single spaces)."""
        obs_space = env.single_observation_space if hasattr(env, "single_observation_space") else env.observation_space
        act_space = env.single_action_space if hasattr(env, "single_action_space") else env.action_space
        return cls(observation_dim(obs_space), ActionSpec.of(act_space), **overrides)

    # -- to override ----------------------------------------------------------------------------
    def act(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        raise NotImplementedError

    def observe(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
                terminated: np.ndarray, truncated: np.ndarray, extras: dict[str, np.ndarray]) -> dict[str, float] | None:
        raise NotImplementedError

    def networks(self) -> dict[str, Mlp]:
        raise NotImplementedError

    def _extra_state(self, with_buffer: bool) -> dict[str, np.ndarray]:
        return {}

    def _load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        pass

    def _optimizer(self) -> Any:
        raise NotImplementedError

    def _trainable(self) -> list[Any]:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def check_observation(self, obs: np.ndarray, where: str = "") -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        if obs.ndim == 1:
            obs = obs[None]
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            prefix = f"{where}: " if where else ""
            raise ValueError(f"{prefix}{self.algo} policy expects observations of length {self.obs_dim}, got shape {tuple(np.shape(obs))[-1:] or '()'}")
        return obs

    def save(self, path: str | Path, with_buffer: bool = False, extra_meta: dict[str, Any] | None = None) -> Path:
        """Write the agent to ``path`` (``.npz``); ``with_buffer`` also keeps a replay buffer."""
        arrays: dict[str, np.ndarray] = {}
        for name, net in self.networks().items():
            for i, w in enumerate(net.weights()):
                arrays[f"net/{name}/{i}"] = w
        opt = self._optimizer()
        if opt.built:
            for i, v in enumerate(opt.variables):
                arrays[f"opt/{i}"] = np.asarray(v)
        arrays.update(self._extra_state(with_buffer))
        meta = {
            "algo": self.algo,
            "obs_dim": self.obs_dim,
            "action": self.action.as_dict(),
            "config": self.config.model_dump(),
            "steps": self.steps,
            "updates": self.updates,
            "rng": self.rng.bit_generator.state,
            "drid_version": drid_version(),
            **(extra_meta or {}),
        }
        return write_checkpoint(path, meta, arrays)

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> None:
        for name, net in self.networks().items():
            current = net.weights()
            stored: list[np.ndarray] = []
            for i, have in enumerate(current):
                got = arrays.get(f"net/{name}/{i}")
                if got is None or got.shape != have.shape:
                    raise CheckpointError(f"policy checkpoint '{path}': network '{name}' weight {i} is "
                                          f"{'missing' if got is None else f'of shape {got.shape}, expected {have.shape}'}")
                stored.append(got)
            net.set_weights(stored)
        opt_arrays = [arrays[f"opt/{i}"] for i in range(len([k for k in arrays if k.startswith("opt/")]))]
        if opt_arrays:
            opt = self._optimizer()
            if not opt.built:
                opt.build(self._trainable())
            if len(opt.variables) != len(opt_arrays):
                raise CheckpointError(f"policy checkpoint '{path}': optimiser state has {len(opt_arrays)} variables, expected {len(opt.variables)}")
            for v, a in zip(opt.variables, opt_arrays):
                v.assign(a)
        self.steps = int(meta.get("steps", 0))
        self.updates = int(meta.get("updates", 0))
        if meta.get("rng") is not None:
            try:
                self.rng.bit_generator.state = meta["rng"]
            except (TypeError, ValueError, KeyError, OverflowError) as exc:
                raise CheckpointError(f"policy checkpoint '{path}': metadata rng is not a random generator state ({type(exc).__name__})") from None
        try:
            self._load_extra_state(arrays)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise CheckpointError(f"policy checkpoint '{path}': saved state does not fit the agent ({type(exc).__name__}: {str(exc)[:200]})") from None


def imitation_steps(meta: dict[str, Any]) -> int | None:
    """The environment steps a checkpoint's policy learnt from by imitation (``cloned_steps``,
    e.g. ``scripts/train_driving_policy.py``'s DAgger), when it never learnt from the reward
    (no ``steps``); otherwise None."""
    cloned = meta.get("cloned_steps")
    return int(cloned) if cloned and not meta.get("steps") else None


def load_agent(path: str | Path, **overrides: Any) -> Agent[Any]:
    """The agent saved at ``path`` (DQN or PPO, from its metadata), ready to act or to resume.
    ``overrides`` change hyperparameters (e.g. ``total_steps`` to train longer)."""
    from drid.decide.rl.dqn import DQNAgent
    from drid.decide.rl.ppo import PPOAgent

    path = Path(path)
    meta, arrays = read_checkpoint(path)
    kinds: dict[str, type[Agent[Any]]] = {"dqn": DQNAgent, "ppo": PPOAgent}
    cls = kinds.get(meta.get("algo", ""))
    if cls is None:
        raise CheckpointError(f"policy checkpoint '{path}' is for algorithm {meta.get('algo')!r}; known: {', '.join(kinds)}")
    config = {**meta["config"], **overrides}
    try:
        agent = cls(int(meta["obs_dim"]), ActionSpec.from_dict(meta["action"]), **config)
    except ConfigError as exc:
        if overrides and not _fails_without(cls, meta, overrides):
            raise  # the user's override is wrong, not the file
        raise CheckpointError(f"policy checkpoint '{path}': metadata: {exc.message}") from None
    except (KeyError, TypeError, ValueError, MemoryError) as exc:
        raise CheckpointError(f"policy checkpoint '{path}' has unreadable metadata ({type(exc).__name__}: {str(exc)[:200]})") from None
    agent._restore(meta, arrays, path)
    agent.checkpoint_meta = meta
    return agent


def _fails_without(cls: type[Agent[Any]], meta: dict[str, Any], overrides: dict[str, Any]) -> bool:
    """Whether the checkpoint's own hyperparameters are refused (so the file is at fault)."""
    try:
        cls.Config.model_validate(meta["config"])
    except ValidationError:
        return True
    return False
