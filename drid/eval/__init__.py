"""Evaluation of detectors against hand-made ground truth.

* ``drid.eval.groundtruth`` — the ground-truth file format (documented there) and its loader;
  drid ships two files in ``drid/eval/annotations/``: ``packaged.json`` (photographs that
  scikit-image and scikit-learn install) and ``shared.json`` (images of the shared data folder).
* ``drid.eval.metrics`` — IoU matching, precision / recall / F1, average precision, line distance.
* ``drid.eval.detector`` — ``evaluate_detector`` and the ``drid eval detector`` command.
"""

from drid.eval.detector import EvalReport, evaluate_detector, make_detector
from drid.eval.groundtruth import GroundTruth, bundled_groundtruth, load_groundtruth
from drid.eval.metrics import Counts, average_precision, line_distance, match_boxes

__all__ = [
    "Counts",
    "EvalReport",
    "GroundTruth",
    "average_precision",
    "bundled_groundtruth",
    "evaluate_detector",
    "line_distance",
    "load_groundtruth",
    "make_detector",
    "match_boxes",
]
