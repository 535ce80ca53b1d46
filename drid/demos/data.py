"""Real media that installed packages ship, located as files (no network, no downloads)."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from drid.pipeline.errors import SourceError


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(f"package '{package}' is not installed (needed for {'/'.join(parts)})")
    for root in spec.submodule_search_locations:
        candidate = Path(root).joinpath(*parts)
        if candidate.exists():
            return candidate
    raise SourceError(f"'{'/'.join(parts)}' not found in package '{package}'")


def sample_photos() -> Path:
    """scikit-learn's two bundled photographs (china.jpg, flower.jpg), as a folder."""
    return package_file("sklearn", "datasets", "images")
