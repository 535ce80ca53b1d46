"""Evaluation of detectors against hand-made ground truth.

* ``drid.eval.groundtruth`` — the ground-truth file format (documented there) and its loader;
  drid ships two files in ``drid/eval/annotations/``: ``packaged.json`` (photographs that
  scikit-image and scikit-learn install) and ``shared.json`` (images of the shared data folder).
* ``drid.eval.metrics`` — IoU matching, precision / recall / F1, average precision (COCO's
  101-point AP at IoU 0.5…0.95: ``detection_ap``), line distance.
* ``drid.eval.detector`` — ``evaluate_detector`` and the ``drid eval detector`` command.
* ``drid.eval.samples`` — ground truth as training samples for ``drid train detector``, and AP
  on held-out samples.
* ``drid.eval.mot`` — boxes with identities (``Tracks``) and MOTChallenge text files.
* ``drid.eval.mot_metrics`` — the tracking scores: CLEAR MOT (MOTA, MOTP, ID switches …), IDF1
  and HOTA (``evaluate_tracks``).
* ``drid.eval.tracking`` — ``evaluate_tracker`` (``drid eval tracker``): a tracking pipeline run
  over hand-annotated clips (``annotations/tracks-packaged.json``, ``tracks-shared.json``).
"""

from drid.eval.detector import EvalReport, evaluate_detector, make_detector
from drid.eval.groundtruth import GroundTruth, bundled_groundtruth, load_groundtruth
from drid.eval.metrics import Counts, average_precision, detection_ap, interpolated_ap, line_distance, match_boxes, match_thresholds
from drid.eval.mot import Tracks, read_mot, write_mot
from drid.eval.mot_metrics import TrackingMetrics, evaluate_tracks
from drid.eval.samples import groundtruth_samples, score_samples
from drid.eval.tracking import TrackerReport, evaluate_tracker

__all__ = [
    "Counts",
    "EvalReport",
    "GroundTruth",
    "TrackerReport",
    "TrackingMetrics",
    "Tracks",
    "average_precision",
    "bundled_groundtruth",
    "detection_ap",
    "evaluate_detector",
    "evaluate_tracker",
    "evaluate_tracks",
    "groundtruth_samples",
    "interpolated_ap",
    "line_distance",
    "load_groundtruth",
    "make_detector",
    "match_boxes",
    "match_thresholds",
    "read_mot",
    "score_samples",
    "write_mot",
]
