"""A memory of normal patch features, in the manner of PatchCore (Roth et al., "Towards Total
Recall in Industrial Anomaly Detection", 2022): keep a coreset of the feature vectors of normal
images; a cell's anomaly score is the distance of its feature vector to the nearest vectors in
the memory.

Where PaDiM's one Gaussian describes every normal cell by one mean and one covariance, a memory
describes it by its nearest normal neighbour: a texture made of several kinds of patches (grass
blades, soil, shadow) is many clusters, not one ellipsoid.

* :func:`greedy_coreset` — PatchCore's greedy k-center selection: each new memory vector is the
  candidate farthest from those already chosen, so the memory covers the normal features (every
  candidate lies within the coreset's radius of a memory vector), where a random subset of the
  same size leaves rare normal patches far from any memory vector (and scores them as defects).
  Distances are computed on a seeded Gaussian random projection (Johnson–Lindenstrauss, as the
  paper does) of the candidates; candidates are first a seeded random ``pool`` of the cells, so
  the selection's time is bounded whatever the number of training images.
* :func:`nearest_distances` — exact Euclidean distances of query vectors to their ``k`` nearest
  memory vectors, in chunks (BLAS matrix products, float32, a bounded block of memory).

The features are the PaDiM model's (:meth:`~drid.detect.anomaly.model.AnomalyModel.descriptors`:
the kept channels of the backbone and their local texture statistics), standardised per
dimension with the training cells' mean and standard deviation so that no channel's scale rules
the Euclidean distance (docs/anomaly.md has the measurements behind every default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MemoryBank", "fit_memory", "greedy_coreset", "memory_map", "nearest_distances"]

#: Dimensions of the random projection on which the coreset's distances are computed (the paper's 128).
PROJECTION = 128
#: Query vectors per block of the nearest-neighbour search: a block × memory matrix of float32 distances.
CHUNK = 2048


@dataclass(frozen=True)
class MemoryBank:
    """``vectors`` (M, D) float32, the standardised memory; ``center`` and ``scale`` (D,) the
    standardisation; ``channels`` the kept backbone channels; ``k`` the neighbours whose mean
    distance is a cell's score."""

    vectors: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    channels: np.ndarray
    k: int = 1

    @classmethod
    def from_arrays(cls, z: Any) -> MemoryBank:
        """The memory from the arrays of its saved ``.npz`` file (an ``NpzFile`` or a dict)."""
        return cls(z["vectors"], z["center"], z["scale"], z["channels"], int(z["k"]))


def greedy_coreset(vectors: np.ndarray, size: int, *, projection: int = PROJECTION, seed: int = 0) -> np.ndarray:
    """Indices of ``size`` rows of ``vectors`` (N, D) chosen by greedy k-center selection on a
    seeded random projection to ``projection`` dimensions (none if D is not larger): start at a
    seeded random row, then repeatedly add the row farthest from every row chosen so far.
    Deterministic for a seed."""
    x = np.asarray(vectors, dtype=np.float32)
    n, d = x.shape
    if size >= n:
        return np.arange(n)
    if size < 1:
        raise ValueError(f"a coreset has at least 1 vector, asked for {size}")
    rng = np.random.default_rng(seed)
    if d > projection:
        x = x @ (rng.standard_normal((d, projection)) / np.sqrt(projection)).astype(np.float32)
    sq = np.einsum("ij,ij->i", x, x)
    chosen = np.empty(size, dtype=np.int64)
    chosen[0] = int(rng.integers(n))
    nearest = np.full(n, np.inf, dtype=np.float32)
    work = np.empty(n, dtype=np.float32)
    for i in range(1, size):
        c = x[chosen[i - 1]]
        np.dot(x, c, out=work)
        work *= -2.0
        work += sq
        work += sq[chosen[i - 1]]  # squared distances to the newest memory vector
        np.minimum(nearest, work, out=nearest)
        chosen[i] = int(np.argmax(nearest))
    return chosen


def nearest_distances(queries: np.ndarray, memory: np.ndarray, k: int = 1, chunk: int = CHUNK) -> np.ndarray:
    """Euclidean distances (Q, k), nearest first, of each query row to its ``k`` nearest rows of ``memory``."""
    q = np.asarray(queries, dtype=np.float32)
    m = np.asarray(memory, dtype=np.float32)
    if k < 1 or k > len(m):
        raise ValueError(f"k is between 1 and the memory's {len(m)} vectors, got {k}")
    m_sq = np.einsum("ij,ij->i", m, m)
    out = np.empty((len(q), k), dtype=np.float32)
    for i in range(0, len(q), chunk):
        block = q[i:i + chunk]
        d2 = block @ m.T
        d2 *= -2.0
        d2 += m_sq
        d2 += np.einsum("ij,ij->i", block, block)[:, None]
        part = d2.min(axis=1, keepdims=True) if k == 1 else np.sort(np.partition(d2, k - 1, axis=1)[:, :k], axis=1)
        out[i:i + chunk] = np.sqrt(np.maximum(part, 0.0))
    return out


def fit_memory(features: np.ndarray, channels: np.ndarray, *, size: int, pool: int, k: int = 1, seed: int = 0,
               border: int = 0) -> MemoryBank:
    """A memory of ``size`` vectors chosen by :func:`greedy_coreset` among a seeded random
    ``pool`` of the cells of normal ``features`` (``N×h×w×D``, the kept channels and their
    statistics); ``border`` cells on each side are left out (their receptive fields reach into the
    padding)."""
    f = np.asarray(features)
    n, h, w, d = f.shape
    inner = f[:, border:h - border or None, border:w - border or None].reshape(-1, d)
    if len(inner) < max(size, k):
        raise ValueError(f"{len(inner)} normal feature vectors cannot fill a memory of {max(size, k)}; give more or larger images")
    if not 1 <= k <= size <= pool:
        raise ValueError(f"PatchCore needs 1 <= neighbours <= memory <= pool, got {k}, {size} and {pool}")
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(inner), pool, replace=False)) if pool < len(inner) else np.arange(len(inner))
    cells = inner[picked].astype(np.float32)
    center = cells.mean(axis=0)
    scale = cells.std(axis=0) + np.float32(1e-6)
    cells = (cells - center) / scale
    keep = greedy_coreset(cells, size, seed=seed)
    return MemoryBank(np.ascontiguousarray(cells[keep]), center.astype(np.float32), scale.astype(np.float32), np.asarray(channels), k)


def memory_map(features: np.ndarray, bank: MemoryBank, chunk: int = CHUNK) -> np.ndarray:
    """Each cell's mean distance to its ``bank.k`` nearest memory vectors: ``N×h×w`` float32."""
    f = np.asarray(features, dtype=np.float32)
    n, h, w, d = f.shape
    if d != bank.vectors.shape[1]:
        raise ValueError(f"features have {d} dimensions, the memory {bank.vectors.shape[1]}")
    q = ((f.reshape(-1, d) - bank.center) / bank.scale).astype(np.float32)
    return nearest_distances(q, bank.vectors, bank.k, chunk).mean(axis=1).reshape(n, h, w)
