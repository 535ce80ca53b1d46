"""Detect: the detectors — ``hog-people`` (``people``), ``cascade``, ``motion``, ``lanes``, ``blobs``
and ``cartpole-parts`` (``cartpole``) — the ``track`` wrapper that gives detections identities
across frames, and ``boxes``, the box utilities they share (non-maximum suppression, merging,
finding at a scale)."""
