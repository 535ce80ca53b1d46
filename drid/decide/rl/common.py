"""Pieces both agents share: action-space description, MLPs built in Keras and evaluated in
numpy for acting, running observation statistics, and the checkpoint format."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drid.errors import ConfigError, DridError

__all__ = ["ActionSpec", "CheckpointError", "Mlp", "RunningNorm", "read_checkpoint", "write_checkpoint"]

FORMAT = "drid-policy/1"


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


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a checkpoint; ``CheckpointError`` naming the file and the reason when
    it is missing, truncated, corrupt (bad CRC) or not a drid policy."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"policy checkpoint not found: '{path}'")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "__meta__" not in data.files:
                raise CheckpointError(f"'{path}' is not a drid policy checkpoint (no metadata)")
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"policy checkpoint '{path}' is corrupt or not a drid policy ({type(exc).__name__}: {exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' has format {meta.get('format')!r}, expected '{FORMAT}'")
    return meta, arrays
