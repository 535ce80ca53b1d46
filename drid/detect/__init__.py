"""Detect: the detectors (classical OpenCV ones, blobs, CartPole parts) and the ``track`` wrapper
that gives detections identities across frames."""
