"""Plugins the signal tests run inside a real ``drid run`` child process (imported there as
``tests.cli.signal_plugins:NAME``, from the repository root)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from drid import Plugin, PluginParams, hookimpl
from drid.schemas import Frame


class Pace(Plugin):
    """Detects nothing; from frame ``mark_at`` on it creates ``marker`` (so the test knows the run
    is under way) and takes ``delay`` seconds per frame (so the run is still going when the
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
            time.sleep(p.delay)
        return []
