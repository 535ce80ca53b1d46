"""ONNX detectors through OpenCV's DNN module (``cv2.dnn.readNetFromONNX``; no onnxruntime).

The model takes ``(N, 3, H, W)`` float RGB in [0, 1] (the YOLO export convention; ``normalize``
changes it) and gives one YOLO tensor: ``yolov5``, ``yolov8`` (v8, v9, 11) or ``end2end`` (see
:mod:`drid.detect.exported.decode`); ``layout`` names it, or it is told from the output's shape.
The input size is read from the graph when the ``onnx`` package is installed and the graph fixes
it, else from ``input_size`` (default 640 × 640, the YOLO export size).

A batch goes through the network in one forward pass when the graph allows it (a dynamic batch
dimension); a graph exported for batch 1 is run image by image.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drid.detect.exported.backends import Prediction
from drid.detect.exported.decode import LAYOUTS, decode, guess_layout

__all__ = ["DEFAULT_SIZE", "OnnxBackend", "graph_input"]

#: Input size of a YOLO export when neither the graph nor the config says.
DEFAULT_SIZE = (640, 640)


def graph_input(path: Path) -> tuple[tuple[int, int] | None, int | None, tuple[str, ...] | None]:
    """``(input size (w, h) or None, fixed batch or None, class names or None)`` of an ONNX file,
    read with the ``onnx`` package when it is installed (Ultralytics exports keep the class names
    in the metadata key ``names``)."""
    try:
        import onnx
    except ImportError:
        return None, None, None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # a file onnx cannot parse: OpenCV will say why
        return None, None, None
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    size = batch = None
    if len(inputs) == 1:
        dims = [d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) == 4:
            batch = dims[0] or None
            if dims[2] and dims[3]:
                size = (int(dims[3]), int(dims[2]))
    names = None
    for prop in model.metadata_props:
        if prop.key == "names":
            names = _parse_names(prop.value)
    return size, batch, names


def _parse_names(text: str) -> tuple[str, ...] | None:
    """Ultralytics' ``{0: 'person', 1: 'bicycle', ...}`` metadata as names by id."""
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, dict) and value and all(isinstance(k, int) for k in value):
        return tuple(str(value.get(i, "")) for i in range(max(value) + 1))
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


class OnnxBackend:
    """An ``.onnx`` YOLO-style detector run by OpenCV DNN."""

    def __init__(self, path: str | Path, *, layout: str | None = None, normalize: str = "auto",
                 input_size: tuple[int, int] | None = None, **_: Any) -> None:
        self.path = Path(path)
        if layout is not None and layout not in LAYOUTS:
            raise ValueError(f"unknown ONNX layout '{layout}' (known: {', '.join(LAYOUTS)})")
        try:
            self.net = cv2.dnn.readNetFromONNX(str(self.path))
        except cv2.error as exc:
            raise ValueError(f"OpenCV cannot read '{self.path.name}' as an ONNX network: {str(exc).strip().splitlines()[-1]}") from None
        graph_size, self.fixed_batch, names = graph_input(self.path)
        if input_size is not None and graph_size is not None and tuple(input_size) != graph_size:
            raise ValueError(f"input_size {list(input_size)} does not match the graph's fixed input {list(graph_size)} (width, height)")
        self.input_size: tuple[int, int] = tuple(input_size) if input_size is not None else (graph_size or DEFAULT_SIZE)  # type: ignore[assignment]
        self.labels = names
        self.letterbox = True
        self.layout = layout
        self.normalize = "unit" if normalize == "auto" else normalize
        if self.normalize not in ("unit", "signed", "none"):
            raise ValueError(f"unknown normalize '{normalize}' (known: auto, unit, signed, none)")
        self._batched = self.fixed_batch is None  # try whole batches unless the graph fixes the batch
        self._lock = threading.Lock()
        if self.layout is None:  # one forward pass on grey tells the layout (and warms OpenCV up)
            w, h = self.input_size
            try:
                shape = self._forward(self._blob(np.full((1, h, w, 3), 114, dtype=np.uint8))).shape
            except cv2.error as exc:
                raise ValueError(f"OpenCV cannot run '{self.path.name}' on a {w}x{h} input: {str(exc).strip().splitlines()[-1]}") from None
            self.layout = guess_layout(shape, len(self.labels) if self.labels else None)
        self.description = f"ONNX {self.layout} detector {self.path.name} ({self.input_size[0]}x{self.input_size[1]}) via OpenCV DNN"

    def _blob(self, batch: np.ndarray) -> np.ndarray:
        x = batch.astype(np.float32).transpose(0, 3, 1, 2)
        if self.normalize == "unit":
            x /= 255.0
        elif self.normalize == "signed":
            x = x / 127.5 - 1.0
        return np.ascontiguousarray(x)

    def _forward(self, blob: np.ndarray) -> np.ndarray:
        self.net.setInput(blob)
        return np.asarray(self.net.forward(), dtype=np.float32)

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        """Candidates of each image: one forward pass for the batch when the graph allows it."""
        blob = self._blob(batch)
        with self._lock:
            outputs: list[np.ndarray] = []
            if self._batched and len(blob) > 1:
                try:
                    out = self._forward(blob)
                    if out.shape[0] == len(blob):
                        outputs = [out]
                    else:
                        self._batched = False
                except cv2.error:
                    self._batched = False
            if not outputs:
                outputs = [self._forward(blob[i:i + 1]) for i in range(len(blob))]
        assert self.layout is not None
        return decode(np.concatenate(outputs, axis=0), self.layout, self.input_size)
