"""Pieces both agents share: action-space description, MLPs built in Keras and evaluated in
numpy for acting, running observation statistics, and the checkpoint format."""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drid.errors import ConfigError, DridError, validation_text

__all__ = [
    "MAX_CHECKPOINT_BYTES",
    "MAX_PARAMETERS",
    "ActionSpec",
    "CheckpointError",
    "CheckpointMeta",
    "Mlp",
    "RunningNorm",
    "check_buffer_size",
    "check_network_size",
    "drid_version",
    "read_checkpoint",
    "registered_env_id",
    "write_checkpoint",
]

FORMAT = "drid-policy/1"

# A checkpoint is data: nothing in it may run code, import a module, or make drid allocate more
# than the file could plausibly hold. The bounds are far above what drid trains: the bundled
# CartPole PPO's policy network has 4,610 weights; a DQN last.npz with a full 100,000-transition
# replay buffer of 8-dimensional observations holds 7.6 MB of arrays (float32 rows).
#: Most weights a policy network may have (20 million: 80 MB as float32, per network).
MAX_PARAMETERS = 20_000_000
#: Widest hidden layer and most hidden layers of a policy network.
MAX_WIDTH = 8192
MAX_LAYERS = 8
#: Largest observation and action vector an agent takes.
MAX_VECTOR = 65_536
#: Most environment copies an agent steps together.
MAX_ENVS = 4096
#: Most numbers an agent's buffers (a PPO rollout) may hold: 50 million, 200 to 400 MB.
MAX_BUFFER_VALUES = 50_000_000
#: Most bytes of arrays a checkpoint may declare (its replay buffer included), checked on the
#: arrays' headers before any is read.
MAX_CHECKPOINT_BYTES = 4 << 30
#: Largest metadata record (JSON) of a checkpoint.
MAX_META_BYTES = 1 << 20

_Finite = Annotated[float, Field(allow_inf_nan=False)]
_JsonScalar = str | int | float | bool | None


class _ActionMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["discrete", "box"]
    n: int = Field(default=0, ge=0, le=MAX_VECTOR)
    low: list[float] = Field(default_factory=list, max_length=MAX_VECTOR)
    high: list[float] = Field(default_factory=list, max_length=MAX_VECTOR)

    @model_validator(mode="after")
    def _shape(self) -> _ActionMeta:
        if self.kind == "discrete" and self.n < 1:
            raise ValueError("a discrete action space needs n >= 1")
        if self.kind == "box" and (not self.low or len(self.low) != len(self.high)):
            raise ValueError("a box action space needs low and high of one length")
        return self


class CheckpointMeta(BaseModel):
    """The metadata record of a policy checkpoint, checked before anything is built from it:
    known algorithm, bounded sizes, an environment id that is a plain string (a registered id is
    required where drid would make the environment, see :func:`registered_env_id`), JSON-scalar
    environment kwargs. Hyperparameters (``config``) are checked by the agent's own model."""

    model_config = ConfigDict(extra="allow")

    format: Literal["drid-policy/1"]
    algo: Literal["dqn", "ppo"]
    obs_dim: int = Field(ge=1, le=MAX_VECTOR)
    action: _ActionMeta
    config: dict[str, Any] = Field(default_factory=dict)
    steps: int = Field(default=0, ge=0)
    updates: int = Field(default=0, ge=0)
    rng: dict[str, Any] | None = None
    env: str | None = Field(default=None, max_length=200)
    env_kwargs: dict[str, _JsonScalar | list[_JsonScalar]] = Field(default_factory=dict, max_length=64)
    eval_mean: _Finite | None = None
    eval_episodes: int | None = Field(default=None, ge=1, le=1_000_000)
    # Since drid 0.x (issue 15): what evaluation needs without flags. Older checkpoints have none
    # of these and still load (evaluation then falls back to the shipped preset / gymnasium).
    preset: str | None = Field(default=None, max_length=200, description="the shipped preset trained with, 'ENV/ALGO'")
    reward_threshold: _Finite | None = Field(default=None, description="return counted as a success")
    threshold_source: str | None = Field(default=None, max_length=300)
    drid_version: str | None = Field(default=None, max_length=64, description="drid version that wrote the checkpoint")


def drid_version() -> str:
    """The installed drid's version (``0.0.0+unknown`` when drid is run from an uninstalled tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("drid")
    except PackageNotFoundError:
        return "0.0.0+unknown"


_DRID_MODULE = re.compile(r"drid(\.[A-Za-z_][A-Za-z0-9_]*)+")


def registered_env_id(env_id: str, where: str) -> str:
    """``env_id`` when gymnasium has registered it, else a ``CheckpointError``. An id read from a
    checkpoint is data: drid never imports the module a ``module:Env`` id names, except drid's
    own installed modules (``drid.sources.cartpole:CartPoleFrames-v1``), which register drid's
    environments; the user can run any other module by giving ``--env module:Env`` themselves."""
    import importlib

    import gymnasium

    module, sep, name = env_id.rpartition(":")
    if sep:
        if not _DRID_MODULE.fullmatch(module):
            raise CheckpointError(f"{where} names the environment '{env_id[:100]}', which would import module '{module[:60]}'; drid does not "
                                  f"import modules named by a checkpoint (give --env {env_id[:100]} to run that code yourself)")
        try:
            importlib.import_module(module)
        except ImportError:
            raise CheckpointError(f"{where} names the environment '{env_id}', but drid has no module '{module}' (give --env ID)") from None
    else:
        name = env_id
    if name not in gymnasium.registry:
        raise CheckpointError(f"{where} names the environment '{env_id[:100]}', which gymnasium has not registered (give --env ID)")
    return env_id


def check_buffer_size(values: int, what: str) -> None:
    """``ConfigError`` when a buffer of ``values`` numbers would exceed ``MAX_BUFFER_VALUES``
    (checked before numpy allocates it)."""
    if values > MAX_BUFFER_VALUES:
        raise ConfigError(f"{what} holds {values:,} numbers; drid allocates at most {MAX_BUFFER_VALUES:,} (make the rollout smaller)")


def check_network_size(sizes: list[int]) -> None:
    """``ConfigError`` for a network drid will not build: a layer wider than ``MAX_WIDTH``, more
    than ``MAX_LAYERS`` hidden layers or more than ``MAX_PARAMETERS`` weights (checked before
    TensorFlow allocates anything)."""
    hidden = sizes[1:-1]
    if len(hidden) > MAX_LAYERS:
        raise ConfigError(f"{len(hidden)} hidden layers; drid builds policy networks of at most {MAX_LAYERS}")
    if any(not 1 <= w <= MAX_WIDTH for w in hidden):
        raise ConfigError(f"hidden layer widths {hidden}: each must be between 1 and {MAX_WIDTH}")
    weights = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    if weights > MAX_PARAMETERS:
        raise ConfigError(f"a network of sizes {sizes} has {weights:,} weights; drid builds at most {MAX_PARAMETERS:,}")


class CheckpointError(DridError):
    """A policy checkpoint is missing, corrupt, or not a drid policy."""


@dataclass(frozen=True)
class ActionSpec:
    """What an agent outputs: ``n`` discrete actions, or a continuous vector with bounds."""

    kind: str  # "discrete" | "box"
    n: int = 0
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    @property
    def dim(self) -> int:
        return self.n if self.kind == "discrete" else len(self.low)

    @classmethod
    def of(cls, space: Any) -> ActionSpec:
        """From a gymnasium space; ``ConfigError`` for spaces the agents cannot drive."""
        from gymnasium import spaces

        if isinstance(space, spaces.Discrete):
            if int(space.start) != 0:
                raise ConfigError(f"action space {space} starts at {space.start}; drid's agents need Discrete(n) starting at 0")
            return cls("discrete", n=int(space.n))
        if isinstance(space, spaces.Box) and len(space.shape) == 1:
            return cls("box", low=tuple(float(v) for v in space.low), high=tuple(float(v) for v in space.high))
        raise ConfigError(f"action space {space} is not supported (Discrete(n) or a 1-D Box)")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n, "low": list(self.low), "high": list(self.high)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ActionSpec:
        return cls(d["kind"], int(d.get("n", 0)), tuple(d.get("low", ())), tuple(d.get("high", ())))

    def describe(self) -> str:
        return f"Discrete({self.n})" if self.kind == "discrete" else f"Box(shape=({self.dim},))"


def observation_dim(space: Any) -> int:
    """Length of a flat Box observation; ``ConfigError`` for anything else."""
    from gymnasium import spaces

    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return int(space.shape[0])
    raise ConfigError(f"observation space {space} is not supported (the agents need a 1-D Box observation)")


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"tanh": np.tanh, "relu": _relu}


class Mlp:
    """A Keras multi-layer perceptron (trained with ``tf.function`` updates) with a numpy copy of
    its weights for acting: one small matrix product per layer, no TensorFlow call per step."""

    def __init__(self, sizes: list[int], activation: str = "tanh", out_scale: float = 1.0, seed: int = 0, name: str = "mlp") -> None:
        import keras

        if activation not in _ACTIVATIONS:
            raise ConfigError(f"activation must be one of {', '.join(_ACTIVATIONS)}, got '{activation}'")
        check_network_size(list(sizes))
        self.sizes = list(sizes)
        self.activation = activation
        layers = [keras.Input(shape=(sizes[0],))]
        for i, width in enumerate(sizes[1:]):
            last = i == len(sizes) - 2
            init = keras.initializers.Orthogonal(gain=out_scale if last else float(np.sqrt(2)), seed=seed + i)
            layers.append(keras.layers.Dense(width, activation=None if last else activation, kernel_initializer=init, bias_initializer="zeros"))
        self.model = keras.Sequential(layers, name=name)
        self._numpy: list[np.ndarray] | None = None

    @property
    def variables(self) -> list[Any]:
        return self.model.trainable_variables

    def __call__(self, x: Any) -> Any:
        """The Keras forward pass (inside ``tf.function`` updates)."""
        return self.model(x)

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(w) for w in self.model.get_weights()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.model.set_weights(weights)
        self._numpy = None

    def changed(self) -> None:
        """Call after training: the numpy copy is refreshed on the next ``numpy_forward``."""
        self._numpy = None

    def numpy_forward(self, x: np.ndarray) -> np.ndarray:
        if self._numpy is None:
            self._numpy = [w.astype(np.float64) for w in self.weights()]
        act = _ACTIVATIONS[self.activation]
        h = np.asarray(x, dtype=np.float64)
        ws = self._numpy
        for i in range(0, len(ws), 2):
            h = h @ ws[i] + ws[i + 1]
            if i + 2 < len(ws):
                h = act(h)
        return h


class RunningNorm:
    """Running mean and variance of observations (parallel-batch update), used to normalise them
    to roughly zero mean and unit variance, clipped to ``±clip``."""

    def __init__(self, dim: int, clip: float = 10.0) -> None:
        self.mean = np.zeros(dim)
        self.var = np.ones(dim)
        self.count = 1e-4
        self.clip = clip

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.mean.shape[0])
        b_mean, b_var, b_n = x.mean(0), x.var(0), x.shape[0]
        delta = b_mean - self.mean
        total = self.count + b_n
        self.mean = self.mean + delta * b_n / total
        self.var = (self.var * self.count + b_var * b_n + delta**2 * self.count * b_n / total) / total
        self.count = total

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(x, dtype=np.float64) - self.mean) / np.sqrt(self.var + 1e-8), -self.clip, self.clip)

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "var": self.var, "count": np.array(self.count)}

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        self.mean, self.var, self.count = arrays["mean"].astype(np.float64), arrays["var"].astype(np.float64), float(arrays["count"])


def write_checkpoint(path: str | Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """One ``.npz`` file (a zip with per-member CRCs): ``meta`` as JSON plus named arrays. Written
    to a temporary name and renamed, so an interrupted save never leaves a half-written policy."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"__meta__": np.frombuffer(json.dumps({"format": FORMAT, **meta}).encode(), dtype=np.uint8)}
    payload.update(arrays)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **payload)
    os.replace(tmp, path)
    return path


def _array_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """Shape and dtype of every array of an ``.npz``, read from the headers alone."""
    headers: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise ValueError(f"array '{name}' has .npy version {version}")
            headers[name] = (tuple(shape), dtype)
    return headers


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a checkpoint; ``CheckpointError`` naming the file and the reason when
    it is missing, truncated, corrupt (bad CRC), not a drid policy, declares more than
    ``MAX_CHECKPOINT_BYTES`` of arrays or object arrays, or has metadata that
    :class:`CheckpointMeta` refuses. Nothing in the file can run code (no pickles)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"policy checkpoint not found: '{path}'")
    try:
        headers = _array_headers(path)
        if "__meta__" not in headers:
            raise CheckpointError(f"'{path}' is not a drid policy checkpoint (no metadata)")
        total = 0
        for name, (shape, dtype) in headers.items():
            if dtype.hasobject or dtype.kind not in "biuf":
                raise CheckpointError(f"policy checkpoint '{path}': array '{name[:60]}' has dtype {dtype}; checkpoints hold numbers only")
            total += math.prod(shape) * dtype.itemsize
        if total > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"policy checkpoint '{path}' declares {total / 2**30:.1f} GiB of arrays; drid reads at most "
                                  f"{MAX_CHECKPOINT_BYTES / 2**30:.0f} GiB")
        if math.prod(headers["__meta__"][0]) > MAX_META_BYTES:
            raise CheckpointError(f"policy checkpoint '{path}' has {math.prod(headers['__meta__'][0]):,} bytes of metadata; at most {MAX_META_BYTES:,}")
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        raw = json.loads(arrays.pop("__meta__").tobytes().decode())
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"policy checkpoint '{path}' is corrupt or not a drid policy ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"policy checkpoint '{path}': metadata is a {type(raw).__name__}, not a record")
    if raw.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' has format {str(raw.get('format'))[:40]!r}, expected '{FORMAT}'")
    try:
        CheckpointMeta.model_validate(raw)
    except ValidationError as exc:
        raise CheckpointError(f"policy checkpoint '{path}': metadata {validation_text(exc)}") from None
    return raw, arrays
