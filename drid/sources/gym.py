"""The ``gym`` source: any registered gymnasium environment as a closed-loop frame source.

Each observation becomes a ``Frame`` (``observation`` always, ``image`` too when ``pixels`` is
on, rendered with ``render_mode="rgb_array"`` and converted to BGR; with ``pixels: observation``
the observation itself is the picture, as in CarRacing, and ``image`` is it in BGR). The engine hands each frame's
decision back through ``drid_act``, which steps the environment and returns the ``Transition``.

Vectorised copies (``num_envs > 1``) are independent environments seeded ``seed, seed+1, …`` whose
frames are interleaved round-robin: frame ``i`` belongs to copy ``i % num_envs`` (also in
``frame.meta["env_index"]`` and ``Transition.env_index``), and each copy steps when its own frame's
action comes back. A learner that wants per-copy trajectories groups transitions by ``env_index``.

Episode ends follow gymnasium's semantics: ``terminated`` (the MDP ended, do not bootstrap) and
``truncated`` (cut by a time limit, bootstrap from ``next_observation``) are passed on separately.
Reset is automatic: the transition that ends an episode carries the episode's *final*
observation as ``next_observation``, and the copy's next frame is the first observation of its
next episode (``frame.meta["first"]`` is true). Episode returns and lengths are reported in the
ending transition's ``info["episode"]`` and in the run summary's notes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from drid.errors import ConfigError, DridError, close_matches
from drid.pipeline.context import RunContext, RunSummary
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Decision, Frame, Transition
from drid.sources.media import Sized

__all__ = ["GymSource", "check_env_id", "coerce_action", "make_env"]


def check_env_id(env_id: str) -> str:
    """``env_id`` if gymnasium knows it, else a ``ConfigError`` naming close matches."""
    import importlib

    import gymnasium

    module, sep, name = env_id.rpartition(":")
    if sep:  # gymnasium's "module:EnvId": importing the module registers the id
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"cannot import '{module}' for environment '{env_id}': {exc}", path="env") from None
        if name in gymnasium.registry:
            return env_id
        env_id = name
    if env_id in gymnasium.registry:
        return env_id
    hint = close_matches(env_id, list(gymnasium.registry)) or " (see gymnasium.pprint_registry() for the registered ids)"
    raise ConfigError(f"unknown gymnasium environment '{env_id}'{hint}", path="env")


def make_env(env_id: str, kwargs: dict[str, Any] | None = None, render_mode: str | None = None) -> Any:
    """``gymnasium.make`` with drid's errors: unknown id (with close matches) or bad kwargs."""
    import gymnasium

    check_env_id(env_id)
    try:
        return gymnasium.make(env_id, render_mode=render_mode, **(kwargs or {}))
    except TypeError as exc:
        raise ConfigError(f"gymnasium environment '{env_id}' refused its kwargs {kwargs}: {exc}", path="kwargs") from None


def coerce_action(space: Any, action: Any, where: str = "") -> Any:
    """``action`` in the form ``space.step`` wants, or a ``ValueError`` saying why it does not fit
    (raised inside ``drid_act``, the engine reports it with the source's name and the frame).

    Discrete spaces take an int (numpy ints and integral floats too); Box spaces take a number or
    a sequence of the space's shape; actions outside the space's bounds are refused (a policy
    whose output layer does not match the environment shows here first)."""
    from gymnasium import spaces

    prefix = f"{where}: " if where else ""
    if isinstance(space, spaces.Discrete):
        value = action
        if isinstance(value, (tuple, list, np.ndarray)) and np.size(value) == 1:
            value = np.asarray(value).reshape(-1)[0]
        if isinstance(value, (bool, str)) or not isinstance(value, (int, float, np.integer, np.floating)) or float(value) != int(value):
            raise ValueError(f"{prefix}action {action!r} does not fit the action space {space}: expected an integer")
        value = int(value)
        if not space.contains(np.int64(value)):
            raise ValueError(f"{prefix}action {value} is outside the action space {space} (valid: {space.start}..{space.start + space.n - 1})")
        return value
    if isinstance(space, spaces.Box):
        if isinstance(action, str):
            raise ValueError(f"{prefix}action {action!r} does not fit the action space {space}: expected numbers")
        value = np.asarray(action, dtype=space.dtype)
        if value.size != int(np.prod(space.shape)):
            raise ValueError(f"{prefix}action of shape {value.shape} does not fit the action space {space} (shape {space.shape})")
        value = value.reshape(space.shape)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{prefix}action {value.tolist()} is not finite")
        return np.clip(value, space.low, space.high)
    if space.contains(action):
        return action
    raise ValueError(f"{prefix}action {action!r} does not fit the action space {space}")


class _Copy:
    """One environment copy and its running episode."""

    __slots__ = ("env", "index", "obs", "image", "episode", "step", "ret", "pending", "first")

    def __init__(self, env: Any, index: int) -> None:
        self.env = env
        self.index = index
        self.obs: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.episode = 0
        self.step = 0
        self.ret = 0.0
        self.pending: Frame | None = None  # the frame yielded and not yet acted on
        self.first = True


class GymSource(Plugin):
    """A gymnasium environment as a closed-loop source: observations in, decisions' actions out."""

    drid_name = "gym"

    class Params(PluginParams):
        env: str = Field(description="registered gymnasium environment id, e.g. CartPole-v1")
        kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments for gymnasium.make")
        seed: int | None = Field(default=0, description="seed of the first copy (copy k gets seed+k); null for unseeded")
        num_envs: int = Field(default=1, ge=1, le=1024, description="independent copies, interleaved round-robin (frame i is copy i % num_envs)")
        episodes: int | None = Field(default=1, ge=1, description="stop after this many finished episodes (all copies together); null for no limit")
        steps: int | None = Field(default=None, ge=1, description="stop after this many environment steps (all copies together); null for no limit")
        pixels: bool | Literal["observation"] = Field(default=False, description="true: render each frame (render_mode='rgb_array') into Frame.image as BGR; 'observation': the observation is the picture (CarRacing's 96x96 RGB frame), Frame.image is it in BGR, nothing extra is rendered")
        actions: dict[str, Any] = Field(default_factory=dict, description="named actions a policy may return, e.g. {LEFT: 0, RIGHT: 1}")

        @field_validator("env")
        @classmethod
        def _known(cls, value: str) -> str:
            try:
                return check_env_id(value)
            except ConfigError as exc:
                raise ValueError(exc.message) from None

        @model_validator(mode="after")
        def _bounded(self) -> GymSource.Params:
            if self.episodes is None and self.steps is None:
                raise ValueError("give 'episodes' or 'steps' (or both): a gym source without either never ends")
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        self.env_id = p.env
        self.num_envs = p.num_envs
        self.max_episodes = p.episodes
        self.max_steps = p.steps
        #: Named actions, coerced to the action space's form at ``drid_start``.
        self.actions: dict[str, Any] = dict(p.actions)
        self.copies: list[_Copy] = []
        #: Finished episodes in order of completion: ``{"env_index", "episode", "return", "length"}``.
        self.episodes: list[dict[str, Any]] = []
        self.total_steps = 0
        self.defaulted_actions = 0
        self.action_space: Any = None
        self.observation_space: Any = None
        self._fps = 50.0

    # -- lifecycle ------------------------------------------------------------------------------
    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Makes the environment copies and resets each with its seed."""
        self.close()
        p = self.params
        render = "rgb_array" if p.pixels is True else None
        self.copies = [_Copy(make_env(self.env_id, dict(p.kwargs), render), k) for k in range(self.num_envs)]
        first = self.copies[0].env
        self.action_space = first.action_space
        self.observation_space = first.observation_space
        if p.pixels is True and "rgb_array" not in first.metadata.get("render_modes", []):
            raise ConfigError(f"gymnasium environment '{self.env_id}' cannot render rgb_array frames (pixels: true)", path="pixels")
        if p.pixels == "observation":
            shape, dtype = getattr(self.observation_space, "shape", None), getattr(self.observation_space, "dtype", None)
            if shape is None or len(shape) != 3 or shape[2] != 3 or dtype != np.uint8:
                raise ConfigError(f"gymnasium environment '{self.env_id}' observes {self.observation_space}, not an HxWx3 uint8 picture "
                                  "(pixels: observation); use pixels: true to render frames", path="pixels")
        self._fps = float(first.metadata.get("render_fps") or 50.0)
        if p.seed is not None:
            self.action_space.seed(p.seed)
        self.actions = dict(p.actions)
        for name, action in self.actions.items():
            try:
                self.actions[name] = coerce_action(self.action_space, action)
            except ValueError as exc:
                raise ConfigError(f"named action '{name}': {exc}", path=f"actions.{name}") from None
        self.episodes = []
        self.total_steps = 0
        self.defaulted_actions = 0
        for copy in self.copies:
            self._reset(copy, seed=None if p.seed is None else p.seed + copy.index)

    @hookimpl
    def drid_stop(self, summary: RunSummary) -> None:
        """Notes the episodes' returns and lengths in the summary and closes the environments."""
        if self.episodes:
            returns = np.array([e["return"] for e in self.episodes])
            lengths = np.array([e["length"] for e in self.episodes])
            summary.notes.append(
                f"gym {self.env_id}: {len(self.episodes)} episodes, return {returns.mean():.2f} ± {returns.std():.2f} "
                f"(min {returns.min():.2f}, max {returns.max():.2f}), length {lengths.mean():.1f}, {self.total_steps} steps"
            )
        if self.defaulted_actions:
            summary.notes.append(f"gym {self.env_id}: {self.defaulted_actions} steps had no decision and took a random action")
        self.close()

    def close(self) -> None:
        for copy in self.copies:
            copy.env.close()
        self.copies = []

    # -- frames ---------------------------------------------------------------------------------
    def _reset(self, copy: _Copy, seed: int | None = None) -> None:
        obs, _ = copy.env.reset(seed=seed)
        copy.obs = np.array(obs)  # a copy: frames make their arrays read-only, and an env may reuse its buffer
        copy.image = self._render(copy)
        copy.step = 0
        copy.ret = 0.0
        copy.first = True

    def _render(self, copy: _Copy) -> np.ndarray | None:
        if not self.params.pixels:
            return None
        if self.params.pixels == "observation":
            return np.ascontiguousarray(np.asarray(copy.obs, dtype=np.uint8)[:, :, ::-1])
        rgb = copy.env.render()
        return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])

    def _done(self) -> bool:
        if self.max_steps is not None and self.total_steps >= self.max_steps:
            return True
        return self.max_episodes is not None and len(self.episodes) >= self.max_episodes

    @hookimpl
    def drid_frames(self) -> Iterator[Frame] | Sized[Frame]:
        """The copies' observations, round-robin, until the episode or step limit."""
        if self.max_episodes is None and self.max_steps is not None:
            return Sized(self._frames, self.max_steps)  # a known length: the progress bar shows a total
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        if not self.copies:
            raise DridError("gym source: drid_frames called before drid_start")
        index = 0
        while not self._done():
            copy = self.copies[index % self.num_envs]
            if copy.pending is not None:  # nobody acted on the copy's last frame: act for it
                self.defaulted_actions += 1
                self._step(copy, self.action_space.sample())
                if self._done():
                    return
            frame = Frame(
                index=index,
                timestamp=self.total_steps / self._fps,
                source=self.env_id,
                image=copy.image,
                observation=copy.obs,
                meta={"env_index": copy.index, "episode": copy.episode, "step": copy.step, "first": copy.first},
            )
            copy.pending = frame
            yield frame
            index += 1

    # -- acting ---------------------------------------------------------------------------------
    def _action_of(self, decision: Decision | None, frame: Frame) -> Any:
        if decision is None:
            self.defaulted_actions += 1
            return self.action_space.sample()
        action = decision.action
        if isinstance(action, str):
            if action not in self.actions:
                known = f" (named actions: {', '.join(self.actions)})" if self.actions else " (give the source an 'actions' map to use named actions)"
                raise ValueError(f"{self.env_id}: unknown named action '{action}'{close_matches(action, self.actions)}{known}")
            return self.actions[action]
        return coerce_action(self.action_space, action, where=self.env_id)

    def _step(self, copy: _Copy, action: Any) -> Transition:
        assert copy.pending is not None
        frame, copy.pending = copy.pending, None
        obs, reward, terminated, truncated, info = copy.env.step(action)
        obs = np.array(obs)  # a copy: frames make their arrays read-only, and an env may reuse its buffer
        copy.ret += float(reward)
        copy.step += 1
        self.total_steps += 1
        info_out: dict[str, Any] = {}
        transition_episode, transition_step = copy.episode, copy.step - 1
        if terminated or truncated:
            ended = {"env_index": copy.index, "episode": copy.episode, "return": copy.ret, "length": copy.step}
            self.episodes.append(ended)
            info_out["episode"] = {"return": copy.ret, "length": copy.step}
        shown_action = action.tolist() if isinstance(action, np.ndarray) else (int(action) if isinstance(action, np.integer) else action)
        transition = Transition(
            observation=frame.observation,
            action=shown_action,
            reward=float(reward),
            next_observation=obs,
            terminated=bool(terminated),
            truncated=bool(truncated),
            episode=transition_episode,
            step=transition_step,
            env_index=copy.index,
            info=info_out,
        )
        if terminated or truncated:
            copy.episode += 1
            self._reset(copy)
        else:
            copy.obs = obs
            copy.image = self._render(copy)
            copy.first = False
        return transition

    @hookimpl
    def drid_act(self, frame: Frame, decision: Decision | None) -> Transition | None:
        """Steps the frame's copy with the decision's action (a random one without a decision)."""
        named = frame.meta.get("env_index", 0)
        k = int(named) if isinstance(named, int) else 0
        if not 0 <= k < len(self.copies):
            raise DridError(f"gym {self.env_id}: frame #{frame.index} names env copy {k}, but there are {len(self.copies)}")
        copy = self.copies[k]
        if copy.pending is None or copy.pending.index != frame.index:
            raise DridError(f"gym {self.env_id}: frame #{frame.index} is not the frame copy {k} is waiting on (act once per frame, in order)")
        return self._step(copy, self._action_of(decision, frame))
