"""TFLite / LiteRT detectors: the interpreter of ``ai-edge-litert`` when it is installed, else
TensorFlow's ``tf.lite.Interpreter``.

Two kinds of outputs are understood:

* the four post-processed tensors of ``TFLite_Detection_PostProcess`` (SSD-MobileNet,
  EfficientDet-Lite, models of the TF Object Detection API and drid's own TFLite export). They are
  told apart by the signature's output names (``detection_boxes``, ``detection_classes``,
  ``detection_scores``, ``num_detections``, or names containing box/class/score/num/count), else
  boxes and count by their shapes and classes before scores (the op's order: boxes, classes,
  scores, count; outputs numbered by their names' trailing digits);
* one YOLO tensor (``yolov5`` / ``yolov8`` / ``end2end`` layouts, see
  :mod:`drid.detect.exported.decode`), e.g. an Ultralytics TFLite export.

Labels and preprocessing are read, when present, from ``NAME.labels.txt`` or ``labels.txt``
beside the model, from a label file packed into the model (TFLite metadata keeps it in a zip
archive appended to the flatbuffer), and from drid's ``NAME.json`` beside it (keys ``labels`` and
``letterbox``; a model whose ``architecture`` starts with ``drid-`` is letterboxed).
"""

from __future__ import annotations

import json
import re
import threading
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from drid.detect.exported.backends import Prediction
from drid.detect.exported.decode import decode, decode_postprocessed, guess_layout
from drid.detect.exported.labels import labels_from_text
from drid.detect.learned.backend import nested_fraction

__all__ = ["TFLiteBackend", "interpreter_class", "normalize_pixels"]


def interpreter_class() -> Any:
    """LiteRT's ``Interpreter`` (``ai-edge-litert``) when importable, else ``tf.lite.Interpreter``."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-not-found]

        return Interpreter
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter


def normalize_pixels(batch: np.ndarray, dtype: Any, mode: str, quantization: tuple[float, int] = (0.0, 0)) -> np.ndarray:
    """uint8 RGB pixels as a model input of ``dtype``: for float inputs scaled by ``mode``
    (``unit`` [0, 1], ``signed`` [-1, 1], ``none`` 0..255); uint8 inputs take the pixels as they
    are (their quantization maps them to the model's range); int8 inputs get the ``mode`` value
    quantized with the input's ``(scale, zero_point)``."""
    if np.dtype(dtype) == np.uint8:
        return batch
    x = batch.astype(np.float32)
    if mode == "unit":
        x /= 255.0
    elif mode == "signed":
        x = x / 127.5 - 1.0
    elif mode != "none":
        raise ValueError(f"unknown normalize '{mode}' (known: unit, signed, none)")
    if np.dtype(dtype) == np.int8:
        scale, zero = quantization
        if not scale:
            return (batch.astype(np.int16) - 128).astype(np.int8)
        return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
    return x.astype(dtype)


def _sidecar(path: Path) -> tuple[str | None, dict[str, Any]]:
    """The label text and drid metadata found beside or inside the model."""
    text = None
    for candidate in (path.with_suffix(".labels.txt"), path.parent / "labels.txt"):
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8")
            break
    if text is None and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".txt")]
            if names:
                text = archive.read(sorted(names, key=lambda n: ("label" not in n.lower(), n))[0]).decode("utf-8")
    meta: dict[str, Any] = {}
    meta_path = path.with_suffix(".json")
    if meta_path.is_file():
        try:
            loaded = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"'{meta_path}' beside the model is not valid JSON: {exc}") from None
        meta = loaded if isinstance(loaded, dict) else {}
    return text, meta


_ROLES = {"boxes": ("box",), "classes": ("class",), "scores": ("score",), "count": ("num", "count")}


class TFLiteBackend:
    """A ``.tflite`` detector (see the module docstring for the outputs it reads)."""

    def __init__(self, path: str | Path, *, layout: str | None = None, normalize: str = "auto",
                 input_size: tuple[int, int] | None = None, num_threads: int | None = None, **_: Any) -> None:
        self.path = Path(path)
        try:
            with warnings.catch_warnings():  # tf.lite's notice that LiteRT replaces it: we use LiteRT when it is installed
                warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)
                self.interpreter = interpreter_class()(model_path=str(self.path), num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"'{self.path}' is not a readable TFLite model: {str(exc).splitlines()[0]}") from None
        self._lock = threading.Lock()
        inp = self.interpreter.get_input_details()
        if len(inp) != 1:
            raise ValueError(f"'{self.path.name}' has {len(inp)} inputs; a detector takes one image tensor")
        self.input = inp[0]
        shape = tuple(int(v) for v in self.input["shape"])
        if len(shape) != 4 or shape[3] != 3:
            raise ValueError(f"'{self.path.name}' takes input of shape {shape}; expected (batch, height, width, 3)")
        model_size = (shape[2], shape[1])
        try:
            if input_size is not None and tuple(input_size) != model_size:
                self.interpreter.resize_tensor_input(self.input["index"], [1, input_size[1], input_size[0], 3], strict=True)
                model_size = (int(input_size[0]), int(input_size[1]))
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"'{self.path.name}' cannot run at input_size {list(model_size if input_size is None else input_size)} "
                             f"(its input is {shape[2]}x{shape[1]}): {str(exc).splitlines()[0]}") from None
        self.input_size: tuple[int, int] = model_size
        self.dtype = np.dtype(self.input["dtype"])
        quant = self.input.get("quantization", (0.0, 0))
        self.quantization = (float(quant[0]), int(quant[1]))
        self.outputs = self.interpreter.get_output_details()
        self.roles = self._postprocessed_roles()
        if self.roles is None:
            if len(self.outputs) != 1:
                raise ValueError(f"'{self.path.name}' has {len(self.outputs)} outputs that are neither the 4 post-processed "
                                 f"detection tensors (boxes, classes, scores, count) nor one YOLO tensor: "
                                 f"{[tuple(int(v) for v in o['shape']) for o in self.outputs]}")
            self.layout = layout or guess_layout(tuple(int(v) for v in self.outputs[0]["shape"]))
        else:
            self.layout = "postprocessed"
        self.normalize = normalize if normalize != "auto" else ("signed" if self.layout == "postprocessed" else "unit")
        text, meta = _sidecar(self.path)
        labels = meta.get("labels")
        self.labels: tuple[str, ...] | None = None
        if isinstance(labels, list) and labels and all(isinstance(n, str) for n in labels):
            self.labels = tuple(labels)
        elif text is not None and text.strip():
            names = labels_from_text(text, str(self.path)).names
            self.labels = tuple(names.get(i, "") for i in range(max(names) + 1)) if names else None
        # drid's detectors (architecture drid-…) are letterboxed; TF-OD models stretch; YOLO letterboxes.
        letter = meta.get("letterbox")
        drid_made = str(meta.get("architecture", "")).startswith("drid-")
        self.letterbox: bool = letter if isinstance(letter, bool) else (drid_made or self.layout != "postprocessed")
        self.nested: float | None = nested_fraction(meta)
        self.description = f"TFLite {self.layout} detector {self.path.name} ({self.input_size[0]}x{self.input_size[1]}, {self.dtype.name} input)"

    def _output_names(self) -> dict[int, str]:
        """Output tensor index → signature output name (empty without a signature)."""
        try:
            signatures = self.interpreter.get_signature_list()
        except (AttributeError, ValueError):
            return {}
        if len(signatures) != 1:
            return {}
        key = next(iter(signatures))
        runner = self.interpreter.get_signature_runner(key)
        details = runner.get_output_details()
        return {int(d["index"]): name for name, d in details.items()}

    def _postprocessed_roles(self) -> dict[str, int] | None:
        """Which output is boxes, classes, scores and count, or ``None`` when they are not the four."""
        if len(self.outputs) != 4:
            return None
        shapes = {o["index"]: tuple(int(v) for v in o["shape"]) for o in self.outputs}
        names = self._output_names()
        roles: dict[str, int] = {}
        for o in self.outputs:
            name = (names.get(int(o["index"])) or o.get("name", "")).lower()
            for role, words in _ROLES.items():
                if role not in roles and any(w in name for w in words):
                    roles[role] = int(o["index"])
                    break
        if len(roles) != 4:
            # Unnamed (TFLite_Detection_PostProcess:0..3, output_0..3): boxes and count by their shapes,
            # classes before scores in the op's own order (boxes, classes, scores, count).
            def rank(o: dict[str, Any]) -> tuple[int, str]:
                name = names.get(int(o["index"])) or o.get("name", "")
                digits = re.search(r"(\d+)$", name)
                return (int(digits.group(1)) if digits else 0, name)

            ordered = sorted(self.outputs, key=rank)
            boxes = [int(o["index"]) for o in ordered if len(shapes[o["index"]]) == 3]
            count = [int(o["index"]) for o in ordered if int(np.prod(shapes[o["index"]])) == 1 and len(shapes[o["index"]]) <= 2]
            pair = [int(o["index"]) for o in ordered if int(o["index"]) not in boxes + count]
            if len(boxes) != 1 or len(count) != 1 or len(pair) != 2:
                roles = dict(zip(("boxes", "classes", "scores", "count"), (int(o["index"]) for o in ordered), strict=True))
            else:
                roles = {"boxes": boxes[0], "classes": pair[0], "scores": pair[1], "count": count[0]}
        ok = (len(shapes[roles["boxes"]]) == 3 and shapes[roles["boxes"]][-1] == 4 and int(np.prod(shapes[roles["count"]])) == 1
              and shapes[roles["classes"]] == shapes[roles["scores"]] == shapes[roles["boxes"]][:2])
        if not ok:
            raise ValueError(f"'{self.path.name}' has 4 outputs of shapes {sorted(shapes.values())}, not the post-processed "
                             "detection layout (boxes (1, K, 4), classes (1, K), scores (1, K), count (1,))")
        return roles

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        """Candidates of each image; the interpreter runs one image at a time (post-processed
        TFLite models have a batch of one)."""
        out: list[Prediction] = []
        x = normalize_pixels(batch, self.dtype, self.normalize, self.quantization)
        with self._lock:
            for image in x:
                self.interpreter.set_tensor(self.input["index"], image[None])
                self.interpreter.invoke()
                if self.roles is not None:
                    r = {role: self.interpreter.get_tensor(index)[0] for role, index in self.roles.items()}
                    out.append(decode_postprocessed(r["boxes"], r["classes"], r["scores"], r["count"], self.input_size))
                else:
                    detail = self.outputs[0]
                    raw = self.interpreter.get_tensor(detail["index"]).astype(np.float32)
                    scale, zero = detail.get("quantization", (0.0, 0))
                    if scale and detail["dtype"] != np.float32:
                        raw = (raw - zero) * scale
                    out.extend(decode(raw, self.layout, self.input_size))
        return out
