"""Run a built pipeline to its end and report it: a progress bar while it runs, the summary
table after, the summary as JSON on request, and the exit status (130 after SIGINT, 143 after
SIGTERM).

What ``drid run`` and every demo do with a :class:`~drid.pipeline.engine.Pipeline`."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import IO, Any

from drid.pipeline._signals import Interrupted, signal_name, stop_signals
from drid.pipeline.stats import RunSummary

__all__ = ["exit_status", "run_pipeline", "tell_interrupt", "write_json"]

#: Runs expected to be shorter than this many frames get no progress bar.
MIN_FRAMES_FOR_BAR = 30


def exit_status(signal_name: str | None) -> int:
    """The shell's exit status of a run stopped by ``signal_name``: 128 + the signal's number
    (130 for SIGINT, 143 for SIGTERM)."""
    try:
        return 128 + int(signal.Signals[signal_name or "SIGINT"])
    except KeyError:
        return 130


def writes_stdout(pipe: Any) -> bool:
    """Whether a sink of ``pipe`` writes to standard output (``jsonl`` with ``path: '-'``): then
    the summary table goes to standard error, so the records stay machine-readable."""
    return any(getattr(m.instance, "writes_stdout", False) for m in pipe.sinks)


def tell_interrupt(summary: RunSummary, in_flight: int, abandoned: bool) -> None:
    """What ``drid run`` says at a stop signal (on standard error, at once)."""
    frames = f"{in_flight} frame{'' if in_flight == 1 else 's'} in flight"
    if abandoned:
        print(f"drid: interrupted again: abandoning {frames}", file=sys.stderr, flush=True)
    elif in_flight:
        print(f"drid: {summary.signal or 'interrupted'}: finishing {frames}, then closing the outputs "
              "(Ctrl-C again to abandon them)", file=sys.stderr, flush=True)
    else:
        print(f"drid: {summary.signal or 'interrupted'}: stopping, closing the outputs", file=sys.stderr, flush=True)


def run_pipeline(pipe: Any, *, progress: bool = True, quiet: bool = False, summary_json: str | Path | None = None,
                 out: IO[str] | None = None) -> int:
    """Run ``pipe`` with a progress bar on a terminal; print its summary table to ``out``
    (standard output, or standard error when a sink writes standard output) unless ``quiet``;
    write the summary to ``summary_json`` (a failed run's too); the exit status.

    SIGTERM stops the run like Ctrl-C: the frames in flight finish, the sinks close (videos
    playable, JSONL complete) and the table is printed."""
    out = out or (sys.stderr if writes_stdout(pipe) else sys.stdout)
    bar = None
    try:
        with stop_signals(sigterm=True):
            try:
                with pipe:
                    total = pipe.expected_frames
                    if progress and sys.stderr.isatty() and (total is None or total >= MIN_FRAMES_FOR_BAR):
                        from tqdm import tqdm

                        bar = tqdm(total=total, unit="frame", desc=pipe.name, file=sys.stderr, dynamic_ncols=True)
                    try:
                        pipe.run(on_record=None if bar is None else (lambda _record: bar.update(1)), on_interrupt=tell_interrupt)
                    finally:
                        if bar is not None:
                            bar.close()
            except KeyboardInterrupt as exc:  # a second signal, or one before the first frame or after the last
                summary = pipe.summary
                summary.interrupted = True
                summary.signal = summary.signal or (signal_name(exc.signum) if isinstance(exc, Interrupted) else "SIGINT")
    finally:
        if summary_json:  # a failed run's summary too: its counts say how far it got
            write_json(summary_json, pipe.summary.as_dict())
    summary = pipe.summary
    if not quiet:
        print(summary.table(), file=out)
    return exit_status(summary.signal) if summary.interrupted else 0


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path``, making its folder first."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2), encoding="utf-8")
