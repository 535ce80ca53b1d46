"""Sinks: JSON Lines records."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, Literal

from pydantic import Field

from drid.errors import DridError
from drid.pipeline.context import RunContext, RunSummary
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import FrameRecord


class JsonlSink(Plugin):
    """One JSON object per frame, one per line: the engine's record without pixels."""

    drid_name = "jsonl"

    class Params(PluginParams):
        path: str = Field(description="output file ('-' for standard output); folders are created")
        arrays: Literal["summary", "base64"] = Field(
            default="summary", description="'summary': images as dtype+shape, small arrays as lists; 'base64': every array losslessly"
        )
        append: bool = Field(default=False, description="append instead of overwriting")

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.path = self.params.path
        #: The serialisation context of ``FrameRecord``: how arrays are written.
        self.context = {"arrays": self.params.arrays}
        self._file: IO[str] | None = None
        self.lines = 0
        #: ``drid run`` then prints its summary table to standard error.
        self.writes_stdout = self.path == "-"

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Opens the file (or standard output)."""
        import sys

        if self.path == "-":
            self._file = sys.stdout
            return
        target = Path(self.path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(target, "a" if self.params.append else "w", encoding="utf-8")
        except OSError as exc:
            raise DridError(f"jsonl: cannot write '{target}': {exc.strerror or exc}") from None

    @hookimpl
    def drid_write(self, record: FrameRecord) -> None:
        """Writes the record as one line and flushes it."""
        assert self._file is not None, "drid_start was not called"
        # One write per line, flushed: an interrupted run leaves only whole lines behind.
        self._file.write(record.model_dump_json(context=self.context) + "\n")
        self._file.flush()
        self.lines += 1

    @hookimpl
    def drid_stop(self, summary: RunSummary) -> None:
        """Closes the file."""
        if self._file is not None and self.path != "-":
            self._file.close()
        self._file = None
