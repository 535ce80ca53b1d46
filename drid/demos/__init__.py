"""Demos runnable with ``drid demo NAME``: each runs a real pipeline on data that installed
packages ship and writes its outputs under ``out/``. ``drid demo`` (what ``make demo`` runs)
runs the ``MAIN`` demos in order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drid.demos.cartpole import run_cartpole_demo
from drid.demos.digits import run_digits_demo
from drid.demos.image import run_image_demo
from drid.demos.video import run_video_demo

#: ``drid demo NAME`` → function(path, out, max_frames) → exit status.
DEMOS: dict[str, Callable[..., int]] = {
    "image": run_image_demo,
    "digits": run_digits_demo,
    "video": run_video_demo,
    "cartpole": run_cartpole_demo,
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

__all__ = ["DEFAULT_DEMO", "DEMOS", "MAIN", "run_main"]
