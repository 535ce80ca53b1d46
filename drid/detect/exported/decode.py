"""Decoding the output tensors of exported detectors into candidates in input pixels.

Layouts (per image of the batch):

* ``yolov5`` — ``(A, 5 + C)``: ``cx, cy, w, h, objectness, C class probabilities`` per anchor;
  the score of a class is objectness × its probability (YOLOv5, v7 exports).
* ``yolov8`` — ``(4 + C, A)``: ``cx, cy, w, h, C class scores``, no objectness (YOLOv8, v9, 11
  exports); the transposed ``(A, 4 + C)`` is read too.
* ``end2end`` — ``(K, 6)``: ``x1, y1, x2, y2, score, class`` after NMS inside the model
  (YOLOv10, ``nms=True`` exports).
* ``postprocessed`` — the four tensors of TFLite's ``TFLite_Detection_PostProcess`` (SSD,
  EfficientDet-Lite, drid's TFLite export): boxes ``(K, 4)`` normalised ``ymin, xmin, ymax, xmax``,
  classes ``(K,)``, scores ``(K,)``, count.

Boxes given in fractions of the input (all coordinates within [0, 1.5], as TFLite YOLO exports
write them) are scaled to input pixels.
"""

from __future__ import annotations

import numpy as np

from drid.detect.exported.backends import Prediction

__all__ = ["LAYOUTS", "decode", "decode_postprocessed", "guess_layout"]

LAYOUTS = ("yolov5", "yolov8", "end2end")


def guess_layout(shape: tuple[int, ...], classes: int | None = None) -> str:
    """The YOLO layout of an output of ``shape`` ``(N, d1, d2)``, when it can be told.

    Channels first (``d1 < d2``) is YOLOv8/11's ``(4 + C, A)``; anchors first is YOLOv5's
    ``(A, 5 + C)``, unless the number of classes is known and ``d2 == 4 + C`` (a transposed v8).
    Six values per row without a known class count could be a one-class YOLOv5 or ``end2end``
    rows: refused, ``layout`` must say."""
    if len(shape) != 3:
        raise ValueError(f"a YOLO output has 3 dimensions (batch, ..., ...), got shape {tuple(shape)}; set 'layout'")
    _, d1, d2 = shape
    if d1 < d2:
        if d1 < 5:
            raise ValueError(f"output shape {tuple(shape)} has {d1} channels, too few for any YOLO layout")
        return "yolov8"
    if classes is not None and d2 == 4 + classes:
        return "yolov8"
    if classes is not None and d2 != 5 + classes:
        raise ValueError(f"output shape {tuple(shape)} fits neither yolov5 (5 + {classes} classes) nor yolov8 (4 + {classes}); set 'layout'")
    if d2 < 6:
        raise ValueError(f"output shape {tuple(shape)} has {d2} values per anchor, too few for yolov5; set 'layout'")
    if d2 == 6 and classes is None:
        raise ValueError(f"output shape {tuple(shape)} is either a one-class yolov5 head or end2end rows (x1, y1, x2, y2, score, class); "
                         "set 'layout' to yolov5 or end2end")
    return "yolov5"


def _xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    cx, cy, w, h = xywh[:, 0], xywh[:, 1], xywh[:, 2], xywh[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _in_pixels(boxes: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    if boxes.size and float(np.abs(boxes).max()) <= 1.5:
        boxes = boxes * np.array([input_size[0], input_size[1], input_size[0], input_size[1]], dtype=boxes.dtype)
    return boxes


def decode(output: np.ndarray, layout: str, input_size: tuple[int, int], min_score: float = 0.0) -> list[Prediction]:
    """Candidates of each image of a YOLO ``output`` ``(N, ..., ...)`` scoring at least
    ``min_score`` (one class per anchor, its best)."""
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 2:
        out = out[None]
    if out.ndim != 3:
        raise ValueError(f"expected a (batch, ..., ...) output for layout {layout}, got shape {out.shape}")
    result: list[Prediction] = []
    for rows in out:
        if layout == "yolov8":
            # (4 + C, A) channels first, or (A, 4 + C): the anchors are the longer side.
            rows = rows.T if rows.shape[0] < rows.shape[1] else rows
            if rows.shape[1] < 5:
                raise ValueError(f"yolov8 rows need 4 box values and at least one class score, got {rows.shape[1]} values")
            class_scores = rows[:, 4:]
            ids = class_scores.argmax(axis=1)
            scores = class_scores[np.arange(len(rows)), ids]
            keep = scores >= min_score
            boxes = _xywh_to_xyxy(rows[keep, :4])
        elif layout == "yolov5":
            if rows.shape[1] < 6:
                raise ValueError(f"yolov5 rows need 4 box values, objectness and at least one class, got {rows.shape[1]} values")
            objectness = rows[:, 4]
            class_scores = rows[:, 5:] * objectness[:, None]
            ids = class_scores.argmax(axis=1)
            scores = class_scores[np.arange(len(rows)), ids]
            keep = scores >= min_score
            boxes = _xywh_to_xyxy(rows[keep, :4])
        elif layout == "end2end":
            if rows.shape[1] != 6:
                raise ValueError(f"end2end rows are x1, y1, x2, y2, score, class (6 values), got {rows.shape[1]}")
            scores, ids = rows[:, 4], rows[:, 5].round().astype(np.int64)
            keep = scores >= min_score
            boxes = rows[keep, :4]
        else:
            raise ValueError(f"unknown layout '{layout}' (known: {', '.join(LAYOUTS)})")
        result.append((_in_pixels(boxes.astype(np.float32), input_size), scores[keep].astype(np.float32), ids[keep].astype(np.int64)))
    return result


def decode_postprocessed(boxes: np.ndarray, classes: np.ndarray, scores: np.ndarray, count: np.ndarray | float | None,
                         input_size: tuple[int, int]) -> Prediction:
    """One image's candidates from the four TFLite post-processed outputs (batch dimension
    removed): the first ``count`` rows, boxes from normalised ``ymin, xmin, ymax, xmax`` to
    input-pixel ``x1, y1, x2, y2``."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    c = np.asarray(classes, dtype=np.float32).reshape(-1)
    s = np.asarray(scores, dtype=np.float32).reshape(-1)
    n = len(s) if count is None else int(round(float(np.asarray(count).reshape(-1)[0])))
    n = max(0, min(n, len(b), len(c), len(s)))
    w, h = input_size
    xyxy = np.stack([b[:n, 1] * w, b[:n, 0] * h, b[:n, 3] * w, b[:n, 2] * h], axis=1)
    return xyxy.astype(np.float32), s[:n], c[:n].round().astype(np.int64)
