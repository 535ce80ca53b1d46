"""The grouped split: validation takes whole blocks of consecutive frames, and the frames within
``gap`` of a validation block are left out of training, so neighbouring video frames (nearly
the same picture) never straddle train and validation. Stills are their own groups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from drid.detect.learned.data import Sample

__all__ = ["grouped_split"]


def grouped_split(samples: Sequence[Sample], val_fraction: float, *, block: int = 50, gap: int = 10, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indexes of the training and validation samples.

    Per video (``source``), frames are cut into blocks of ``block`` frame numbers; about
    ``val_fraction`` of each video's blocks (at least one when the video has two) are chosen
    with ``seed`` for validation. Training frames closer than ``gap`` frame numbers to a
    validation frame of the same video are dropped. Stills (no frame number) are split one by one."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    videos: dict[str, list[int]] = defaultdict(list)
    stills: list[int] = []
    for i, s in enumerate(samples):
        (videos[s.source] if s.frame is not None else stills).append(i)
    train: list[int] = []
    val: list[int] = []
    for source in sorted(videos):
        idx = videos[source]
        frames = np.array([samples[i].frame for i in idx], dtype=np.int64)
        blocks = frames // block
        unique = np.unique(blocks)
        n_val = int(round(val_fraction * len(unique)))
        if val_fraction > 0 and n_val == 0 and len(unique) >= 2:
            n_val = 1
        chosen = set(rng.choice(unique, size=n_val, replace=False).tolist()) if n_val else set()
        is_val = np.isin(blocks, list(chosen))
        val_frames = frames[is_val]
        for i, f, v in zip(idx, frames, is_val):
            if v:
                val.append(i)
            elif len(val_frames) == 0 or np.abs(val_frames - f).min() > gap:
                train.append(i)
    if stills:
        order = rng.permutation(len(stills))
        n_val = int(round(val_fraction * len(stills)))
        val += [stills[k] for k in order[:n_val]]
        train += [stills[k] for k in order[n_val:]]
    return sorted(train), sorted(val)
