"""Run a built pipeline to its end and report it: a progress bar while it runs, the summary
table after, the summary as JSON on request, and the exit status (130 when interrupted).

What ``drid run`` and every demo do with a :class:`~drid.pipeline.engine.Pipeline`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

__all__ = ["run_pipeline", "write_json"]

#: Runs expected to be shorter than this many frames get no progress bar.
MIN_FRAMES_FOR_BAR = 30


def run_pipeline(pipe: Any, *, progress: bool = True, quiet: bool = False, summary_json: str | Path | None = None,
                 out: IO[str] | None = None) -> int:
    """Run ``pipe`` with a progress bar on a terminal; print its summary table to ``out``
    (standard output) unless ``quiet``; write the summary to ``summary_json``; the exit status."""
    out = out or sys.stdout
    bar = None
    with pipe:
        total = pipe.expected_frames
        if progress and sys.stderr.isatty() and (total is None or total >= MIN_FRAMES_FOR_BAR):
            from tqdm import tqdm

            bar = tqdm(total=total, unit="frame", desc=pipe.name, file=sys.stderr, dynamic_ncols=True)
        try:
            for _ in pipe.records():
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    summary = pipe.summary
    if not quiet:
        print(summary.table(), file=out)
    if summary_json:
        write_json(summary_json, summary.as_dict())
    return 130 if summary.interrupted else 0


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path``, making its folder first."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2), encoding="utf-8")
