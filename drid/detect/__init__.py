"""Detect: the detectors — ``hog-people`` (``people``), ``cascade``, ``motion``, ``lanes``, ``blobs``,
``cartpole-parts`` (``cartpole``), ``road`` (CarRacing), ``mtcnn-faces`` (``faces``), ``detector``
(``exported/``, with drid's own in ``learned/``) and ``anomaly`` (``anomaly/``) — the ``track`` wrapper that gives detections identities
across frames, and ``boxes``, the box utilities they share (non-maximum suppression, merging,
finding at a scale)."""
