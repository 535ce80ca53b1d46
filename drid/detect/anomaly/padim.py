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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["GaussianStats", "fit_gaussian", "mahalanobis_map"]

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
    f = np.asarray(features, dtype=np.float64)
    if f.shape[-1] != len(channels):
        raise ValueError(f"features have {f.shape[-1]} channels, {len(channels)} were kept")
    n, h, w, d = f.shape
    if kind == "shared":
        inner = f[:, border:h - border or None, border:w - border or None].reshape(-1, d)
        if len(inner) < d + 1:
            raise ValueError(f"{len(inner)} feature vectors cannot fit a {d}-dimensional Gaussian; give more or larger images")
        mean = inner.mean(axis=0)
        cov = np.cov(inner, rowvar=False) + eps * np.eye(d)
        return GaussianStats(mean.astype(np.float32), np.linalg.inv(cov).astype(np.float32), channels)
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
