"""Pipeline configs: the YAML shape, loading, ``--set`` overrides and error locations."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from drid.errors import ConfigError, _shown, close_matches, validation_message
from drid.pipeline._yaml import MAX_CONFIG_BYTES, parse_yaml
from drid.pipeline.hookspecs import ERROR_POLICIES, PLACES, Place, Policy

__all__ = [
    "ActorSpec",
    "EngineConfig",
    "PipelineConfig",
    "PluginSpec",
    "apply_overrides",
    "load_config",
    "read_config_file",
]

class ActorSpec(BaseModel):
    """Serve a stage plugin from one Ray actor shared by every shard of a ``--backend ray`` run
    (a model loaded once, on a GPU, say), with its own resources; calls that arrive together from
    different shards are handed to the plugin as one batch when it has a ``batch_call`` method.
    The local backend ignores it (the plugin runs in-process)."""

    model_config = ConfigDict(extra="forbid")

    num_cpus: float = Field(default=1.0, ge=0, description="CPUs the actor reserves")
    num_gpus: float = Field(default=0.0, ge=0, description="GPUs the actor reserves")
    max_batch: int = Field(default=16, ge=1, description="most calls handed to the plugin at once")
    wait_ms: float = Field(default=2.0, ge=0, le=1000, description="how long the first call of a batch waits for company")


class PluginSpec(BaseModel):
    """One plugin in a pipeline: ``{plugin: NAME, params: {...}}``; a bare string is shorthand for
    ``{plugin: NAME}``. ``name`` tells two instances of one plugin apart in stats and errors;
    ``on_error`` overrides the stage's error policy for this plugin; ``actor`` serves it from a
    shared Ray actor under the Ray backend; ``interval`` (detect entries) runs a detector on every
    Nth frame of each source only, a tracker carrying its boxes in between; ``timeout`` bounds
    each call of the plugin (a hung call is a fault under its ``on_error`` policy)."""

    model_config = ConfigDict(extra="forbid")

    plugin: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None
    on_error: Policy | None = None
    actor: ActorSpec | None = None
    interval: int = Field(default=1, ge=1, le=10_000, description="detect entries: run on every Nth frame of each source (a tracker carries the boxes in between)")
    timeout: float | None = Field(default=None, gt=0, le=86_400, description="seconds one call may take (a frame, for a source); a call that takes longer is a fault under the entry's on_error policy and is left running in the background")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"plugin": value}
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class EngineConfig(BaseModel):
    """How the engine runs: ``mode`` (sequential or concurrent), the bound of each inter-stage
    queue, what a full queue does for a live source (``block`` or ``drop-oldest``), the error
    policy (one for all stages or per stage: a single policy is read as that policy for every
    place), and an optional frame limit."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["sequential", "concurrent"] = "sequential"
    queue_size: int = Field(default=4, ge=1, le=10_000)
    overflow: Literal["block", "drop-oldest"] = "block"
    on_error: dict[Place, Policy] = Field(default_factory=dict)
    max_frames: int | None = Field(default=None, ge=1)

    @field_validator("on_error", mode="before")
    @classmethod
    def _one_for_all(cls, value: Any) -> Any:
        return dict.fromkeys(PLACES, value) if isinstance(value, str) else value

    def policy(self, place: str) -> Policy:
        """The error policy of ``place`` (``source``, a stage or ``sink``); ``fail`` by default."""
        return next((policy for key, policy in self.on_error.items() if key == place), "fail")


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    return value


class PipelineConfig(BaseModel):
    """A whole pipeline: one source, the four stages (each optional), sinks and engine settings."""

    model_config = ConfigDict(extra="forbid")

    name: str = "pipeline"
    source: PluginSpec
    detect: list[PluginSpec] = Field(default_factory=list)
    recognize: list[PluginSpec] = Field(default_factory=list)
    interpret: list[PluginSpec] = Field(default_factory=list)
    decide: PluginSpec | None = None
    sinks: list[PluginSpec] = Field(default_factory=list)
    engine: EngineConfig = Field(default_factory=EngineConfig)

    _lists = field_validator("detect", "recognize", "interpret", "sinks", mode="before")(_as_list)
    #: The file this config was read from ("" when built in code): errors name it.
    _where: str = PrivateAttr(default="")

    @property
    def where(self) -> str:
        return self._where

    @classmethod
    def parse(cls, data: Any, *, where: str = "") -> PipelineConfig:
        """Validate a config mapping; the first problem becomes a ``ConfigError`` at its path."""
        if not isinstance(data, dict):
            raise ConfigError(f"a pipeline config must be a mapping with a 'source' key, got {type(data).__name__}", where=where)
        known = cls.model_fields
        for key in data:
            if key not in known:
                hint = close_matches(str(key), known) or f" (keys: {', '.join(known)})"
                raise ConfigError(f"unknown key{hint}", path=str(key), where=where)
        _check_policies(data, where)
        try:
            config = cls.model_validate(data)
            config._where = where
            return config
        except ValidationError as exc:
            err = exc.errors()[0]
            loc, msg = validation_message(err)
            if err.get("type") == "extra_forbidden":
                parent_fields = _fields_at(cls, err["loc"][:-1])
                msg = "unknown key" + (close_matches(str(err["loc"][-1]), parent_fields) or "")
            raise ConfigError(msg, path=loc, where=where) from None


def _check_policy(value: Any, path: str, where: str) -> None:
    if not isinstance(value, str) or value not in ERROR_POLICIES:
        hint = close_matches(value, ERROR_POLICIES) if isinstance(value, str) else ""
        raise ConfigError(f"unknown error policy {_shown(value)}{hint} (policies: {', '.join(ERROR_POLICIES)})", path=path, where=where)


def _check_policies(data: dict[str, Any], where: str) -> None:
    """The error policies of a config (``engine.on_error`` and each plugin's ``on_error``), each
    mistake named by its key, with close matches of a misspelled place or policy."""
    engine = data.get("engine")
    policies = engine.get("on_error") if isinstance(engine, dict) else None
    if isinstance(policies, dict):
        for place, policy in policies.items():
            if place not in PLACES:
                hint = close_matches(str(place), PLACES)
                raise ConfigError(f"unknown place {_shown(place)}{hint} (places: {', '.join(PLACES)})", path=f"engine.on_error.{place}", where=where)
            _check_policy(policy, f"engine.on_error.{place}", where)
    elif policies is not None and not isinstance(policies, str):
        raise ConfigError(f"expected a policy ({', '.join(ERROR_POLICIES)}) or a mapping of places to policies, got {_shown(policies)}",
                          path="engine.on_error", where=where)
    elif isinstance(policies, str):
        _check_policy(policies, "engine.on_error", where)
    for key in (*_SPEC_KEYS, *_SPEC_LIST_KEYS):
        specs = data.get(key)
        for i, spec in enumerate(specs if isinstance(specs, list) else [specs]):
            if isinstance(spec, dict) and spec.get("on_error") is not None:
                _check_policy(spec["on_error"], f"{key}[{i}].on_error" if isinstance(specs, list) else f"{key}.on_error", where)


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the nested model at ``loc`` (for close matches of an unknown key)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        f = getattr(current, "model_fields", {}).get(part)
        if f is None:
            return []
        ann = f.annotation
        for candidate in (ann, *getattr(ann, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
            for inner in getattr(candidate, "__args__", ()):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    current = inner
                    break
    return list(getattr(current, "model_fields", {}))


def _parse_path(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for raw in key.replace("[", ".").replace("]", "").split("."):
        if raw == "":
            raise ConfigError(f"bad override key '{key}' (use dots: detect.0.params.scale_factor=1.2)", path=key)
        parts.append(int(raw) if raw.isdigit() else raw)
    return parts


def yaml_value(raw: str) -> Any:
    """A ``key=value`` value as YAML reads it (``1.5`` a float, ``true`` a bool, ``[1, 2]`` a
    list), the text itself when it is not YAML, ``""`` when empty: ``--set``, ``--hp`` and
    ``--param`` all read values this way, with the bounds of config files."""
    if not raw.strip():
        return ""
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"a value of {len(raw):,} characters on the command line; drid reads at most {MAX_CONFIG_BYTES:,}")
    try:
        return parse_yaml(raw)
    except ConfigError as exc:
        if "invalid YAML" in exc.message:
            return raw
        raise

#: Config keys holding one plugin spec, and those holding a list of them.
_SPEC_KEYS = ("source", "decide")
_SPEC_LIST_KEYS = ("detect", "recognize", "interpret", "sinks")


def _expand_shorthand(data: dict[str, Any], path: list[str | int]) -> None:
    """Write out the shorthands on the way of an override, so that ``detect.0.params.x`` reaches
    into ``detect: cascade`` or ``detect: [cascade]`` (``{plugin: cascade}``) as into the long form."""
    top = path[0]
    if top in _SPEC_LIST_KEYS and len(path) > 1 and isinstance(path[1], int):
        if isinstance(data.get(top), (str, dict)):
            data[top] = [data[top]]
        items = data.get(top)
        if len(path) > 2 and isinstance(items, list) and path[1] < len(items) and isinstance(items[path[1]], str):
            items[path[1]] = {"plugin": items[path[1]]}
    elif top in _SPEC_KEYS and len(path) > 1 and isinstance(data.get(top), str):
        data[top] = {"plugin": data[top]}


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` overrides (``--set``) to a config mapping, in place, and return it.

    Keys are dotted paths with list indexes as numbers (``detect.0.params.scale``); values are
    read as YAML scalars (``1.5`` is a float, ``true`` a bool, ``[1, 2]`` a list). The plugin
    shorthands (``detect: [cascade]``, ``source: images``) are written out on the way. Values are
    plain strings: a path given here stays relative to the working directory."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item[:60]}' is not key=value", path="--set")
        key, _, raw = item.partition("=")
        key = key.strip()
        path = _parse_path(key)
        try:
            value = yaml_value(raw)
        except ConfigError as exc:
            raise ConfigError(exc.message, path=key) from None
        if isinstance(data, dict):
            _expand_shorthand(data, path)
        node: Any = data
        for i, part in enumerate(path[:-1]):
            nxt = path[i + 1]
            if isinstance(node, list):
                if not isinstance(part, int) or part >= len(node):
                    raise ConfigError(f"no list item {part} to override (list has {len(node)})", path=key)
                node = node[part]
            elif isinstance(node, dict):
                if node.get(part) is None:
                    node[part] = [] if isinstance(nxt, int) else {}
                node = node[part]
            else:
                done = ".".join(str(p) for p in path[: i + 1])
                raise ConfigError(f"cannot override inside '{done}': it is a {type(node).__name__} ({_shown(node)}), "
                                  "not a mapping or a list", path=key)
        last = path[-1]
        if isinstance(node, list):
            if not isinstance(last, int) or last > len(node):
                raise ConfigError(f"no list item {last} to override (list has {len(node)})", path=key)
            if last == len(node):
                node.append(value)
            else:
                node[last] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            done = ".".join(str(p) for p in path[:-1])
            raise ConfigError(f"cannot override inside '{done}': it is a {type(node).__name__} ({_shown(node)}), "
                              "not a mapping or a list", path=key)
    return data


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML (or JSON) config file; ``ConfigError`` naming the file and line.

    Files over ``MAX_CONFIG_BYTES``, documents that expand past ``MAX_CONFIG_NODES`` values or
    nest deeper than ``MAX_CONFIG_DEPTH``, and duplicate keys are refused. Strings in it remember
    the file's folder, so that path parameters (``InputPath``) are read relative to the file."""
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise ConfigError("config file not found" if not p.exists() else "config path is not a file", where=where)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror or exc}", where=where) from None
    if len(raw) > MAX_CONFIG_BYTES:
        size = p.stat().st_size
        raise ConfigError(f"config file is {size / 2**20:.1f} MiB; drid reads configs up to {MAX_CONFIG_BYTES // 2**20} MiB "
                          "(a config describes a pipeline: put large data in files its plugins read)", where=where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a text file (expected YAML)", where=where) from None
    try:
        data = parse_yaml(text, base=str(p.resolve().parent))
    except ConfigError as exc:
        raise ConfigError(exc.message, where=where) from None
    if data is None:
        raise ConfigError("config file is empty", where=where)
    return data


def load_config(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    """Read, override and validate a pipeline config file."""
    data = read_config_file(path)
    if overrides:
        if not isinstance(data, dict):
            raise ConfigError("overrides need a mapping at the top of the config", where=str(path))
        apply_overrides(data, overrides)
    return PipelineConfig.parse(data, where=str(path))
