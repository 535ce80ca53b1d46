"""Gaussian statistics of convolutional features, in the manner of PaDiM (Defard et al., 2020):
the features of normal images at each cell of the feature grid follow a multivariate Gaussian;
a cell's anomaly score is the Mahalanobis distance of its feature vector to that Gaussian.

Two kinds of statistics:

* ``shared`` — one Gaussian for every cell, fitted on all cells of all training images: for
  textures and other stationary surfaces, where a pixel's position says nothing (training images
  are crops at random places), and thousands of cells per image give a well-estimated covariance
  from a few dozen images;
* ``per-location`` — PaDiM's own: one Gaussian per cell, for aligned objects (a part always in the
  same place); needs images all of one size and more of them (a covariance per cell).

As in PaDiM, a random subset of ``dims`` feature channels is kept and the covariance is
regularised with ``eps``·I. Scores are computed in float64 on the CPU: a few matrix products.

:func:`texture_statistics` adds, for each kept channel, its mean and standard deviation over a
``window``×``window`` neighbourhood of cells: second-order texture statistics (how much a
feature varies around a cell, not only its value), which tell a pasted patch of another texture
from the surface better than the features alone (docs/anomaly.md has the measurements).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["GaussianStats", "fit_gaussian", "mahalanobis_map", "texture_statistics"]

Statistics = Literal["shared", "per-location"]


@dataclass(frozen=True)
class GaussianStats:
    """``mean`` (D,) or (h, w, D); ``precision`` (inverse covariance) (D, D) or (h, w, D, D);
    ``channels`` the indices of the kept feature channels."""

    mean: np.ndarray
    precision: np.ndarray
    channels: np.ndarray

    @property
    def kind(self) -> Statistics:
        return "shared" if self.mean.ndim == 1 else "per-location"

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "precision": self.precision, "channels": self.channels}


def choose_channels(total: int, dims: int, seed: int) -> np.ndarray:
    """PaDiM's random dimensionality reduction: ``dims`` of ``total`` channels, sorted."""
    if dims >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, dims, replace=False))


def fit_gaussian(features: np.ndarray, channels: np.ndarray, kind: Statistics = "shared", eps: float = 0.01,
                 border: int = 0) -> GaussianStats:
    """Fit the statistics to normal features ``N×h×w×D`` of the kept ``channels`` (already
    selected; the indices are kept with the statistics for the extractor). ``border`` cells on each
    side are left out of shared statistics (their receptive fields reach into the padding)."""
    f = np.asarray(features)
    if f.shape[-1] % max(len(channels), 1):
        raise ValueError(f"features have {f.shape[-1]} channels, not a multiple of the {len(channels)} kept")
    n, h, w, d = f.shape
    if kind == "shared":
        inner = f[:, border:h - border or None, border:w - border or None]
        count = inner.shape[0] * inner.shape[1] * inner.shape[2]
        if count < d + 1:
            raise ValueError(f"{count} feature vectors cannot fit a {d}-dimensional Gaussian; give more or larger images")
        # Sums in float64 one image at a time (no float64 copy of every feature vector).
        total, outer = np.zeros(d), np.zeros((d, d))
        for image in inner:
            v = image.reshape(-1, d).astype(np.float64)
            total += v.sum(axis=0)
            outer += v.T @ v
        mean = total / count
        cov = (outer - count * np.outer(mean, mean)) / (count - 1) + eps * np.eye(d)
        return GaussianStats(mean.astype(np.float32), np.linalg.inv(cov).astype(np.float32), channels)
    f = f.astype(np.float64)
    if n < 2:
        raise ValueError("per-location statistics need at least 2 training images")
    mean = f.mean(axis=0)
    centred = f - mean
    cov = np.einsum("nhwi,nhwj->hwij", centred, centred) / (n - 1) + eps * np.eye(d)
    return GaussianStats(mean.astype(np.float32), np.linalg.inv(cov).astype(np.float32), channels)


def mahalanobis_map(features: np.ndarray, stats: GaussianStats) -> np.ndarray:
    """The Mahalanobis distance of every cell of ``features`` (``N×h×w×D``, the kept channels
    only) to the statistics: ``N×h×w``."""
    f = np.asarray(features, dtype=np.float32) - stats.mean
    if stats.kind == "shared":
        q = np.einsum("nhwi,ij,nhwj->nhw", f, stats.precision, f, optimize=True)
    else:
        if f.shape[1:3] != stats.mean.shape[:2]:
            raise ValueError(f"per-location statistics were fitted on a {stats.mean.shape[1]}x{stats.mean.shape[0]} feature grid, "
                             f"this image gives {f.shape[2]}x{f.shape[1]} (resize images to the training size)")
        q = np.einsum("nhwi,hwij,nhwj->nhw", f, stats.precision, f, optimize=True)
    return np.sqrt(np.maximum(q, 0.0))


def texture_statistics(features: np.ndarray, window: int) -> np.ndarray:
    """``N×h×w×D`` features followed by their local mean and standard deviation over
    ``window``×``window`` cells (box filter, borders reflected): ``N×h×w×3D`` float32."""
    import cv2

    f = np.asarray(features, dtype=np.float32)
    n, h, w, d = f.shape
    out = np.empty((n, h, w, 3 * d), np.float32)
    out[..., :d] = f
    for i in range(n):
        for c in range(0, d, 64):  # OpenCV filters at most 512 channels at once; 64 keeps it cache-friendly
            part = f[i, ..., c:c + 64]
            mean = cv2.blur(part, (window, window), borderType=cv2.BORDER_REFLECT).reshape(h, w, -1)
            square = cv2.blur(part * part, (window, window), borderType=cv2.BORDER_REFLECT).reshape(h, w, -1)
            out[i, ..., d + c:d + c + part.shape[-1]] = mean
            out[i, ..., 2 * d + c:2 * d + c + part.shape[-1]] = np.sqrt(np.maximum(square - mean * mean, 0.0))
    return out
