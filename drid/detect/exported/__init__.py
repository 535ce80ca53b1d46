"""Exported detectors: the ``detector`` plugin (:mod:`.plugin`) and what it is made of —
format backends behind one protocol and registry (:mod:`.backends`; :mod:`.tflite` for
TFLite/LiteRT, :mod:`.onnx` for ONNX through OpenCV DNN, drid's ``.keras`` detector in
:mod:`drid.detect.learned`), output decoding for the YOLO and TFLite post-processed layouts
(:mod:`.decode`), letterboxing (:mod:`.letterbox`) and label maps with COCO built in
(:mod:`.labels`). See docs/detection.md."""

from drid.detect.exported.backends import DetectorBackend, Prediction, backend_formats, open_backend, register_backend
from drid.detect.exported.labels import COCO80, LabelMap, load_labels
from drid.detect.exported.letterbox import Fit, letterbox, stretch
from drid.detect.exported.plugin import ExportedDetector

__all__ = ["COCO80", "DetectorBackend", "ExportedDetector", "Fit", "LabelMap", "Prediction", "backend_formats", "letterbox",
           "load_labels", "open_backend", "register_backend", "stretch"]
