"""Demos runnable with ``drid demo NAME``: each runs a real pipeline on data that installed
packages ship and writes its outputs under ``out/``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drid.demos.image import run_image_demo

#: ``drid demo NAME`` → function(path, out, max_frames) → exit status.
DEMOS: dict[str, Callable[..., int]] = {
    "image": run_image_demo,
}
DEFAULT_DEMO = "image"

__all__ = ["DEFAULT_DEMO", "DEMOS", "Path"]
