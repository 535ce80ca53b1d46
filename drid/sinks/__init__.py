"""Sinks: where finished frames go — JSON Lines, annotated video and frames, crop harvesting — and
the drawing they share."""
