"""Plugins the signal tests run inside a real ``drid run`` child process (imported there as
``tests.cli.signal_plugins:NAME``, from the repository root)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from drid import Plugin, PluginParams, hookimpl
from drid.schemas import Frame


class Pace(Plugin):
    """Detects nothing; from frame ``mark_at`` on it creates ``marker`` and ``marker-PID`` (so the
    test knows the run, or each process's part of it, is under way) and takes ``delay`` seconds per frame (so the run is still going when the
    signal comes). ``hang_at`` makes it hang in that frame's call (``hang`` seconds)."""

    class Params(PluginParams):
        marker: str
        mark_at: int = 20
        delay: float = 0.03
        hang_at: int | None = None
        hang: float = 600.0

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Any]:
        p = self.params
        if frame.index == p.hang_at:
            Path(p.marker).write_text("hung")
            time.sleep(p.hang)
        if frame.index >= p.mark_at:
            if frame.index == p.mark_at:
                Path(p.marker).write_text("running")
                Path(f"{p.marker}-{os.getpid()}").write_text("running")  # one per process: Ray shards each leave their own
            time.sleep(p.delay)
        return []
