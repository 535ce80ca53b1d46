"""The Keras backend of the ``detector`` plugin: a ``.keras`` file written by ``drid train
detector`` (``drid-centernet-v1`` in its ``NAME.json``) turned into boxes.

It follows the plugin's ``DetectorBackend`` protocol (``drid.detect.exported``): ``predict``
takes letterboxed RGB uint8 batches of ``input_size`` and returns, per picture, candidate boxes
in input pixels with scores and class ids; the plugin thresholds them, applies NMS and maps them
back to the frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from drid.detect.learned.encoding import FILL, decode
from drid.detect.learned.model import ARCHITECTURE, STRIDE

__all__ = ["CENTERNET_NESTED", "nested_fraction", "BUNDLED_DETECTORS", "KerasCenterNet", "load_backend", "read_detector_metadata", "resolve_detector_model"]

#: Where the detectors that ship with drid live (``model: NAME`` finds ``NAME.keras`` there).
BUNDLED_DETECTORS = Path(__file__).resolve().parents[1] / "models"


def resolve_detector_model(model: str, suffix: str = ".keras") -> Path:
    """A model path, or the name of a bundled detector (``street-objects`` → ``drid/detect/models/street-objects.keras``)."""
    path = Path(model).expanduser()
    if path.suffix == "" and not path.exists() and "/" not in model and "\\" not in model:
        bundled = BUNDLED_DETECTORS / f"{model}{suffix}"
        if bundled.is_file():
            return bundled
        names = sorted(p.stem for p in BUNDLED_DETECTORS.glob(f"*{suffix}"))
        raise ValueError(f"no model file '{model}' and no bundled detector of that name (bundled: {', '.join(names) or 'none'})")
    if not path.is_file():
        raise ValueError(f"model file not found: '{path}'")
    return path


def read_detector_metadata(path: Path) -> dict[str, Any]:
    """``NAME.json`` beside a drid detector; ``ValueError`` naming the file when it is missing or not one."""
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        raise ValueError(f"'{path}' has no '{meta_path.name}' beside it: drid's detectors keep their labels and input size there (written by 'drid train detector')")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read detector metadata '{meta_path}': {exc}") from None
    if not isinstance(meta, dict) or meta.get("architecture") != ARCHITECTURE:
        found = meta.get("architecture") if isinstance(meta, dict) else None
        raise ValueError(f"'{meta_path}' does not describe a drid detector (architecture {found!r}, expected '{ARCHITECTURE}'); "
                         "a classifier bundle goes to keras-classifier")
    for key in ("labels", "input"):
        if key not in meta:
            raise ValueError(f"'{meta_path}' has no '{key}'")
    return meta


#: What drid's CenterNet detectors recommend for the ``detector`` plugin's ``nested`` option when
#: their metadata says nothing: its heat-map peaks fire on a part of an object (a car's bonnet, a
#: person's torso) beside the whole, and NMS keeps such a box, whose IoU with the whole is small.
#: 0.5 as for ``hog-people``; see docs/detection.md for what it changed on held-out frames.
CENTERNET_NESTED = 0.5


def nested_fraction(meta: dict[str, Any]) -> float | None:
    """The ``nested`` suppression a model's metadata recommends: its ``nested`` key (a number in
    (0, 1], or null for none), else :data:`CENTERNET_NESTED` for drid's own detectors (architecture
    ``drid-…``), else None (no opinion: other exports keep what their NMS gives)."""
    if "nested" in meta:
        value = meta["nested"]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
            raise ValueError(f"'nested' in the model's metadata is a fraction in (0, 1] or null, got {value!r}")
        return float(value)
    return CENTERNET_NESTED if str(meta.get("architecture", "")).startswith("drid-") else None


class KerasCenterNet:
    """A drid CenterNet ``.keras`` file, ready to predict."""

    letterbox = True
    fill = FILL

    def __init__(self, path: Path, *, min_score: float = 0.05, top_k: int = 100) -> None:
        from drid.recognize.bundle import load_keras_file

        self.path = Path(path)
        self.meta = read_detector_metadata(self.path)
        self.labels: tuple[str, ...] = tuple(self.meta["labels"])
        self.input_size: tuple[int, int] = (int(self.meta["input"]["width"]), int(self.meta["input"]["height"]))
        self.stride = int(self.meta.get("stride", STRIDE))
        self.nested: float | None = nested_fraction(self.meta)
        self.min_score = min_score
        self.top_k = top_k
        try:
            self.model = load_keras_file(self.path)
        except Exception as exc:  # a DridError with the file named; the plugin wants ValueError/OSError
            raise ValueError(str(exc)) from None
        self._call: Any = None

    def heads(self, batch: np.ndarray) -> np.ndarray:
        """The raw network output for a batch (``N×h×w×(C+4)``)."""
        import tensorflow as tf

        if self._call is None:
            self._call = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)
        return np.asarray(self._call(tf.convert_to_tensor(np.asarray(batch, dtype=np.float32))))

    def predict(self, batch: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        batch = np.asarray(batch)
        w, h = self.input_size
        if batch.ndim != 4 or batch.shape[1:] != (h, w, 3):
            raise ValueError(f"{self.path.name} takes batches of {w}x{h} RGB pictures, got an array of shape {batch.shape}")
        out = self.heads(batch)
        return [decode(o, len(self.labels), stride=self.stride, min_score=self.min_score, top_k=self.top_k) for o in out]


def load_backend(path: str | Path, *, input_size: tuple[int, int] | None = None, **_: Any) -> KerasCenterNet:
    """The ``detector`` plugin's factory for ``format: keras``."""
    backend = KerasCenterNet(resolve_detector_model(str(path)))
    if input_size is not None and tuple(input_size) != backend.input_size:
        raise ValueError(f"'{path}' was trained at {backend.input_size[0]}x{backend.input_size[1]}; input_size {input_size[0]}x{input_size[1]} differs "
                         "(a CenterNet runs at other sizes, but drid's detectors are evaluated at their training size: leave input_size unset)")
    return backend
