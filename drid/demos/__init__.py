"""Demos runnable with ``drid demo NAME``: each runs a real pipeline on data that installed
packages ship and writes its outputs under ``out/``. ``drid demo`` (what ``make demo`` runs)
runs the ``MAIN`` demos in order.

Each demo's module is imported only when that demo runs, so ``drid demo --help`` stays fast and
a demo whose optional extra is missing (``driving`` needs ``drid[box2d]``) fails alone, with its
own message, instead of taking every demo down."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_DEMO", "DEMOS", "MAIN", "run_main"]


def _lazy(module: str, function: str) -> Callable[..., int]:
    """``function`` of ``drid.demos.<module>``, imported on the first call."""

    def run(**kwargs: Any) -> int:
        demo: Callable[..., int] = getattr(importlib.import_module(f"drid.demos.{module}"), function)
        return demo(**kwargs)

    run.__name__ = function
    run.__doc__ = f"drid.demos.{module}.{function}, imported when called."
    return run


#: ``drid demo NAME`` → function(path, out, max_frames) → exit status.
DEMOS: dict[str, Callable[..., int]] = {
    "image": _lazy("image", "run_image_demo"),
    "digits": _lazy("digits", "run_digits_demo"),
    "video": _lazy("video", "run_video_demo"),
    "cartpole": _lazy("cartpole", "run_cartpole_demo"),
    "anomaly": _lazy("anomaly", "run_anomaly_demo"),
    "driving": _lazy("driving", "run_driving_demo"),
}
#: What ``drid demo`` with no name runs, in order.
MAIN: list[str] = ["video", "digits", "cartpole"]
DEFAULT_DEMO = "main"


def run_main(path: str | None = None, out: Path = Path("out"), max_frames: int | None = None) -> int:
    """Every demo of ``MAIN`` in order; stops at the first that fails. ``path`` replaces the
    embedded input of the first demo only (the others have inputs of other kinds)."""
    for i, name in enumerate(MAIN):
        status = DEMOS[name](path=path if i == 0 else None, out=out, max_frames=max_frames)
        if status != 0:
            return status
    return 0


DEMOS["main"] = run_main
