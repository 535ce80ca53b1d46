"""Multi-object tracking behind the ``track`` plugin (``drid.detect.track``):

- ``core``: the algorithms on arrays, ByteTrack's two-stage association and SORT's single one,
  with per-source track sets and buffers in seconds;
- ``kalman``: constant-velocity Kalman filters of many boxes at once;
- ``association``: IoU and the gated minimum-cost assignment;
- ``appearance``: colour-histogram (or detector-embedding) features for re-identification;
- ``cmc``: camera-motion compensation by sparse optical flow.
"""

from drid.detect.tracking.core import LOST, TENTATIVE, TRACKED, Rules, StepOutput, TrackerCore, TrackSet
from drid.detect.tracking.kalman import BoxKalman, KalmanBoxFilter

__all__ = ["LOST", "TENTATIVE", "TRACKED", "BoxKalman", "KalmanBoxFilter", "Rules", "StepOutput", "TrackSet", "TrackerCore"]
