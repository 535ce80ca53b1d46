"""Real media that installed packages ship, located as files (no network, no downloads)."""

from __future__ import annotations

from pathlib import Path

from drid.sources.media import package_file

__all__ = ["checked_input", "package_file", "sample_photos"]


def sample_photos() -> Path:
    """scikit-learn's two bundled photographs (china.jpg, flower.jpg), as a folder."""
    return package_file("sklearn", "datasets", "images")


def checked_input(path: str, demo: str) -> str:
    """``path`` (a file, folder or glob given to ``drid demo NAME PATH``) when it exists, else a
    ``ConfigError`` naming the demo's PATH argument, before any model loads."""
    from drid.errors import ConfigError
    from drid.pipeline.params import resolve_input_path

    try:
        return str(resolve_input_path(path))
    except ValueError as exc:
        raise ConfigError(str(exc), path=f"demo {demo}: PATH") from None
