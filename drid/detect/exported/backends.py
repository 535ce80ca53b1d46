"""The format backends behind the ``detector`` plugin: one small protocol, one registry.

A backend runs one model file. The plugin fits frames to the backend's ``input_size`` and hands
it a batch; the backend returns the raw candidates of each image; the plugin does the rest (score
threshold, class filter, class-aware NMS, labels, boxes back to frame pixels). A new format is one
class and one :func:`register_backend` call::

    class MyBackend:
        input_size = (320, 320)
        def predict(self, batch): ...          # see DetectorBackend

    register_backend("myformat", (".mine",), MyBackend.from_file)

Built in: ``tflite`` (:mod:`drid.detect.exported.tflite`), ``onnx``
(:mod:`drid.detect.exported.onnx`) and ``keras`` (drid's own detector, :mod:`drid.detect.learned`).
Factories may be given as ``"module:attribute"`` strings, imported when a model of that format is
first opened (TensorFlow, OpenCV DNN load only when needed).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["BackendSpec", "DetectorBackend", "Prediction", "backend_formats", "open_backend", "register_backend", "resolve_format"]

#: One image's candidates: boxes ``(K, 4)`` float32 xyxy in input pixels, scores ``(K,)`` float32
#: in [0, 1], class ids ``(K,)`` int64.
Prediction = tuple[np.ndarray, np.ndarray, np.ndarray]


@runtime_checkable
class DetectorBackend(Protocol):
    """A loaded detection model.

    ``input_size`` is the ``(width, height)`` the model takes. ``predict(batch)`` gets ``batch``,
    ``(N, height, width, 3)`` uint8 **RGB** images already fitted to ``input_size`` by the plugin,
    and returns one :data:`Prediction` per image: candidates in input pixels, in any order, as many
    as the model gives (the plugin thresholds, filters and suppresses). Scaling pixel values to what
    the model expects is the backend's business.

    Optional attributes the plugin reads when present (``None`` or absent: no opinion):
    ``labels`` (``tuple[str, ...]``, the class names the model carries), ``letterbox`` (``bool``,
    whether the model was trained on letterboxed or stretched images), ``description`` (a short
    text for messages and ``drid plugins``)."""

    input_size: tuple[int, int]

    def predict(self, batch: np.ndarray) -> list[Prediction]: ...


#: ``factory(path, *, input_size=None, layout=None, normalize="auto", **options) -> DetectorBackend``;
#: a factory ignores the options it has no use for.
Factory = Callable[..., DetectorBackend]


@dataclass(frozen=True)
class BackendSpec:
    name: str
    suffixes: tuple[str, ...]
    factory: Factory | str
    claims: Callable[[Path], bool] | None = None

    def load_factory(self) -> Factory:
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attribute = self.factory.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"format '{self.name}' needs {self.factory}, which cannot be imported here: {exc}") from None


_REGISTRY: dict[str, BackendSpec] = {}


def register_backend(name: str, suffixes: tuple[str, ...] | list[str], factory: Factory | str,
                     *, claims: Callable[[Path], bool] | None = None) -> None:
    """Make format ``name`` available to the ``detector`` plugin for files ending in ``suffixes``.

    ``factory`` (a callable or a ``"module:attribute"`` string) opens a file; ``claims(path)`` lets
    several formats share a suffix: ``format: auto`` takes the first registered backend for the
    suffix whose ``claims`` accepts the file (one without ``claims`` accepts every file).
    Registering a name again replaces it."""
    if not name or not name.isidentifier():
        raise ValueError(f"a backend format name must be a word, got {name!r}")
    norm = tuple(s.lower() if s.startswith(".") else f".{s.lower()}" for s in suffixes)
    _REGISTRY[name] = BackendSpec(name, norm, factory, claims)


def backend_formats() -> dict[str, tuple[str, ...]]:
    """The registered formats and their suffixes."""
    return {name: spec.suffixes for name, spec in _REGISTRY.items()}


def resolve_format(path: Path, format: str = "auto") -> BackendSpec:
    """The backend for ``path``: ``format`` by name, or by the file's suffix for ``auto``."""
    if format != "auto":
        if format not in _REGISTRY:
            from drid.errors import close_matches

            raise ValueError(f"unknown detector format '{format}'{close_matches(format, _REGISTRY) or ''} (known: auto, {', '.join(_REGISTRY)})")
        return _REGISTRY[format]
    suffix = path.suffix.lower()
    candidates = [spec for spec in _REGISTRY.values() if suffix in spec.suffixes]
    for spec in candidates:
        if spec.claims is None or spec.claims(path):
            return spec
    known = ", ".join(f"{s} ({name})" for name, spec in _REGISTRY.items() for s in spec.suffixes)
    if candidates:
        raise ValueError(f"no detector format claims '{path.name}' (tried {', '.join(c.name for c in candidates)})")
    raise ValueError(f"cannot tell the format of '{path.name}' from its suffix (known: {known}); set 'format'")


def _bundled(name: str, spec: BackendSpec) -> Path:
    """The ``spec`` format's file of the detector bundled with drid as ``name`` (``street-objects`` with
    ``format: tflite`` → ``drid/detect/models/street-objects.tflite``)."""
    from drid.detect.learned.backend import BUNDLED_DETECTORS

    for suffix in spec.suffixes:
        if (BUNDLED_DETECTORS / f"{name}{suffix}").is_file():
            return BUNDLED_DETECTORS / f"{name}{suffix}"
    have = sorted({f.stem for s in spec.suffixes for f in BUNDLED_DETECTORS.glob(f"*{s}")})
    raise FileNotFoundError(f"model file not found: '{name}', and drid bundles no {spec.name} detector of that name (bundled {spec.name}: {', '.join(have) or 'none'})")


def open_backend(path: str | Path, format: str = "auto", **options: Any) -> DetectorBackend:
    """The backend for the model file ``path`` (or a bare name: a detector bundled with drid),
    opened with ``options`` (``input_size``, ``layout``, ``normalize``)."""
    p = Path(path).expanduser()
    if not p.exists():
        if p.suffix or "/" in str(path) or "\\" in str(path):
            raise FileNotFoundError(f"model file not found: '{path}'")
        if format in ("auto", "keras"):
            format = "keras"  # a bare name: one of drid's bundled detectors, found by the keras backend
        else:  # a bare name in another format: that format's export of a bundled detector
            p = _bundled(str(path), resolve_format(p, format))
    spec = resolve_format(p, format)
    backend = spec.load_factory()(p, **options)
    size = getattr(backend, "input_size", None)
    if not (isinstance(size, tuple) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise TypeError(f"the '{spec.name}' backend for '{p.name}' has no valid input_size (width, height), got {size!r}")
    return backend


register_backend("tflite", (".tflite",), "drid.detect.exported.tflite:TFLiteBackend")
register_backend("onnx", (".onnx",), "drid.detect.exported.onnx:OnnxBackend")
register_backend("keras", (".keras",), "drid.detect.learned.backend:load_backend")
