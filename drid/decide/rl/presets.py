"""Shipped per-environment hyperparameters (``presets.yaml`` beside this module), in the manner of
the RL Baselines3 Zoo: ``drid train policy --env ENV`` picks the preset of ENV and the algorithm,
``--hp KEY=VALUE`` overrides single values.

Each preset carries its status: ``measured`` (drid ran it; ``result`` says what came out),
``unmeasured`` (not run by drid: no claim that it solves) or ``fails`` (run, does not reach the
environment's threshold; kept so that choosing it says so). :func:`resolve` merges a preset with
the user's values and checks them against the agent's hyperparameter model.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drid.errors import ConfigError, close_matches, validation_text

__all__ = ["AlgoPreset", "EnvPresets", "Resolved", "env_presets", "load_presets", "resolve", "reward_threshold"]

Algo = Literal["ppo", "dqn"]


class ZooResult(BaseModel):
    """A published RL Zoo result: mean return after ``steps`` environment steps."""

    model_config = ConfigDict(extra="forbid")
    return_: float = Field(alias="return")
    steps: int = Field(ge=1)


class AlgoPreset(BaseModel):
    """One algorithm's preset for one environment."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["measured", "unmeasured", "fails"]
    steps: int = Field(ge=1, description="training budget --steps defaults to")
    hyper: dict[str, Any] = Field(default_factory=dict)
    result: str | None = Field(default=None, description="what drid measured with this preset (status measured or fails)")

    @model_validator(mode="after")
    def _result(self) -> AlgoPreset:
        if self.status != "unmeasured" and not self.result:
            raise ValueError(f"a {self.status} preset needs the measured result")
        return self


class EnvPresets(BaseModel):
    """The presets of one environment."""

    model_config = ConfigDict(extra="forbid")
    threshold: float | None = None
    aliases: list[str] = Field(default_factory=list, description="other environment ids these presets apply to (wrappers of this one)")
    threshold_source: str = "gymnasium's reward_threshold"
    default_algo: Algo = "ppo"
    note: str | None = None
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    zoo: dict[str, ZooResult] = Field(default_factory=dict)
    ppo: AlgoPreset | None = None
    dqn: AlgoPreset | None = None

    @model_validator(mode="after")
    def _default(self) -> EnvPresets:
        if getattr(self, self.default_algo) is None:
            raise ValueError(f"default_algo is {self.default_algo}, which has no preset")
        return self

    def algo(self, name: str) -> AlgoPreset | None:
        return self.ppo if name == "ppo" else self.dqn if name == "dqn" else None


def _config_model(algo: str) -> type[BaseModel]:
    from drid.decide.rl.dqn import DQNConfig
    from drid.decide.rl.ppo import PPOConfig

    return PPOConfig if algo == "ppo" else DQNConfig


def load_presets(text: str | None = None, where: str = "drid/decide/rl/presets.yaml") -> dict[str, EnvPresets]:
    """Parse and check a presets file (the shipped one unless ``text`` is given): every entry's
    fields and every hyperparameter against the agent's model; ``ConfigError`` naming the file,
    the environment and the key otherwise."""
    import yaml

    if text is None:
        text = resources.files("drid.decide.rl").joinpath("presets.yaml").read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of environment ids, got {type(raw).__name__}")
    out: dict[str, EnvPresets] = {}
    for env_id, entry in raw.items():
        try:
            presets = EnvPresets.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(f"{where}: {env_id}: {validation_text(exc)}") from None
        for algo in ("ppo", "dqn"):
            preset = presets.algo(algo)
            if preset is None:
                continue
            try:
                _config_model(algo).model_validate(preset.hyper)
            except ValidationError as exc:
                raise ConfigError(f"{where}: {env_id}.{algo}.hyper: {validation_text(exc)}") from None
        out[str(env_id)] = presets
    return out


@lru_cache(maxsize=1)
def _shipped() -> dict[str, EnvPresets]:
    return load_presets()


def env_presets(env_id: str) -> EnvPresets | None:
    """The shipped presets of ``env_id`` (a ``module:Id`` id is looked up by its ``Id``; an entry's
    ``aliases`` name wrappers that share its presets)."""
    name = env_id.rpartition(":")[2]
    shipped = _shipped()
    if name in shipped:
        return shipped[name]
    return next((p for p in shipped.values() if name in p.aliases), None)


def reward_threshold(env_id: str) -> tuple[float | None, str]:
    """The return counted as a success on ``env_id`` and where it comes from: the preset's
    threshold, else gymnasium's ``reward_threshold``, else ``(None, reason)``."""
    presets = env_presets(env_id)
    if presets is not None and presets.threshold is not None:
        return presets.threshold, presets.threshold_source
    try:
        import gymnasium

        spec = gymnasium.spec(env_id.rpartition(":")[2])
    except Exception:  # an unregistered id (gymnasium raises its own error types) simply has no threshold
        return None, "no threshold known"
    if spec.reward_threshold is None:
        return None, "gymnasium defines no reward_threshold"
    return float(spec.reward_threshold), "gymnasium's reward_threshold"


class Resolved(BaseModel):
    """What a training run uses after merging: algorithm, steps, hyperparameters, and the preset
    they came from (``preset`` is ``"ENV/ALGO"`` or ``None``)."""

    algo: Algo
    steps: int
    hyper: dict[str, Any]
    preset: str | None = None
    status: str | None = None
    note: str | None = None
    result: str | None = None


def resolve(env_id: str, algo: str | None, steps: int | None, hyper: dict[str, Any] | None = None,
            n_envs: int | None = None, preset: str = "auto") -> Resolved:
    """Merge the shipped preset with the user's choices: preset values < ``n_envs`` < ``hyper``
    (``--hp``); ``steps`` else the preset's budget else 100,000 (ppo) / 50,000 (dqn). ``algo``
    ``None`` takes the environment's ``default_algo`` (else ppo). ``preset``: ``"auto"`` the
    shipped preset when there is one, ``"none"`` the agents' plain defaults."""
    if preset not in ("auto", "none"):
        raise ConfigError(f"preset must be 'auto' or 'none', got '{preset}'", path="--preset")
    presets = env_presets(env_id) if preset == "auto" else None
    chosen = algo or (presets.default_algo if presets is not None else "ppo")
    if chosen != "ppo" and chosen != "dqn":
        raise ConfigError(f"unknown algorithm '{chosen}'{close_matches(chosen, ['ppo', 'dqn'])} (choose ppo or dqn)", path="--algo")
    entry = presets.algo(chosen) if presets is not None else None
    merged: dict[str, Any] = dict(entry.hyper) if entry is not None else {}
    if n_envs is not None:
        merged["n_envs"] = n_envs
    merged.update(hyper or {})
    budget = steps or (entry.steps if entry is not None else (100_000 if chosen == "ppo" else 50_000))
    note = presets.note if presets is not None else None
    return Resolved(algo=chosen, steps=budget, hyper=merged,
                    preset=f"{env_id.rpartition(':')[2]}/{chosen}" if entry is not None else None,
                    status=entry.status if entry is not None else None, note=note,
                    result=entry.result if entry is not None else None)
