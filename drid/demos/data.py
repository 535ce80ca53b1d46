"""Real media that installed packages ship, located as files (no network, no downloads)."""

from __future__ import annotations

from pathlib import Path

from drid.sources.media import package_file

__all__ = ["package_file", "sample_photos"]


def sample_photos() -> Path:
    """scikit-learn's two bundled photographs (china.jpg, flower.jpg), as a folder."""
    return package_file("sklearn", "datasets", "images")
