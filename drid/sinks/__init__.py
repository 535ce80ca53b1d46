"""Sinks: where finished frames go — JSON Lines, annotated video and frames, crop harvesting, the
live page with Prometheus metrics (``serve/``) — and the drawing they share."""
