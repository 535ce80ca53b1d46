"""What a plugin is told when a run starts (``RunContext``) and ends (``RunSummary``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from drid.pipeline.stats import RunSummary

__all__ = ["RunContext", "RunSummary"]


@dataclass(frozen=True)
class RunContext:
    """Handed to ``drid_start``: which pipeline runs, how, and with which plugins per stage.

    A source that skips undecodable input calls ``context.skip_input("undecodable frame")``; those
    counts appear in the run summary."""

    name: str
    mode: str
    stages: dict[str, list[str]] = field(default_factory=dict)
    summary: RunSummary = field(default_factory=RunSummary, repr=False)

    def skip_input(self, reason: str, n: int = 1) -> None:
        """Count ``n`` inputs the source could not turn into frames, with the reason."""
        self.summary.skip_input(reason, n)
