"""Export a drid detector to TFLite with the standard post-processed outputs, so any TFLite
runtime (and drid's ``detector`` plugin with ``format: tflite``) reads it without drid's code.

The graph takes ``uint8 [1, H, W, 3]`` RGB (letterboxed, as the Keras model) and decodes the
CenterNet heads inside it — 3×3 max-pool peaks, the ``max_detections`` best, their offsets and
sizes — into the four outputs of the TF Object Detection API, in its order (signature
``serving_default``, outputs ``output_0`` … ``output_3``, as ``TFLite_Detection_PostProcess:0…3``):
boxes ``[1, K, 4]`` (normalised ``ymin, xmin, ymax, xmax`` of the input), classes ``[1, K]``
(0-based, float), scores ``[1, K]`` (best first) and count ``[1]`` (how many of the K reach
``min_score``). The labels are in
``NAME.labels.txt`` beside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from drid.detect.learned.backend import read_detector_metadata

__all__ = ["export_tflite"]


def export_tflite(model_path: str | Path, out: str | Path | None = None, *, max_detections: int = 100, min_score: float = 0.05) -> Path:
    """Write ``NAME.tflite`` beside the ``.keras`` file (or to ``out``); returns its path."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from drid.recognize.bundle import load_keras_file

    path = Path(model_path)
    meta = read_detector_metadata(path)
    model = load_keras_file(path)
    n_classes = len(meta["labels"])
    w_in, h_in = int(meta["input"]["width"]), int(meta["input"]["height"])
    stride = int(meta.get("stride", 8))
    gw = w_in // stride

    @tf.function(input_signature=[tf.TensorSpec([1, h_in, w_in, 3], tf.uint8, name="image")])
    def detect(image: Any) -> dict[str, Any]:
        heads = model(tf.cast(image, tf.float32), training=False)
        heat = heads[..., :n_classes]
        pooled = tf.nn.max_pool2d(heat, 3, 1, "SAME")
        peaks = tf.where(tf.equal(heat, pooled), heat, tf.zeros_like(heat))
        scores, index = tf.math.top_k(tf.reshape(peaks, [-1]), k=max_detections)
        cls = tf.math.floormod(index, n_classes)
        cell = tf.math.floordiv(index, n_classes)
        iy = tf.cast(tf.math.floordiv(cell, gw), tf.float32)
        ix = tf.cast(tf.math.floormod(cell, gw), tf.float32)
        reg = tf.gather(tf.reshape(heads[..., n_classes:n_classes + 4], [-1, 4]), cell)
        cx = (ix + reg[:, 0]) * stride
        cy = (iy + reg[:, 1]) * stride
        bw = tf.exp(tf.clip_by_value(reg[:, 2], -8.0, 8.0)) * stride
        bh = tf.exp(tf.clip_by_value(reg[:, 3], -8.0, 8.0)) * stride
        boxes = tf.stack([(cy - bh / 2) / h_in, (cx - bw / 2) / w_in, (cy + bh / 2) / h_in, (cx + bw / 2) / w_in], axis=1)
        count = tf.reduce_sum(tf.cast(scores >= min_score, tf.float32))
        return {
            "detection_boxes": boxes[None],
            "detection_classes": tf.cast(cls, tf.float32)[None],
            "detection_scores": scores[None],
            "num_detections": tf.reshape(count, [1]),
        }

    # Weights frozen into constants first: a graph converted with its resource variables reads
    # them uninitialised in the interpreter.
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(detect.get_concrete_function())
    data = tf.lite.TFLiteConverter.from_concrete_functions([frozen], tf.Module()).convert()
    target = Path(out) if out is not None else path.with_suffix(".tflite")
    target.write_bytes(data)
    labels = path.with_suffix(".labels.txt")
    if out is not None and labels.is_file() and not target.with_suffix(".labels.txt").exists():
        target.with_suffix(".labels.txt").write_text(labels.read_text(encoding="utf-8"), encoding="utf-8")
    return target
