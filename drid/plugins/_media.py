"""Helpers shared by the media sources: sized frame iterables and image normalisation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import numpy as np

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
    scaled down)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.shape[2] == 4:
        image = np.ascontiguousarray(image[:, :, :3])
    elif image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return image
