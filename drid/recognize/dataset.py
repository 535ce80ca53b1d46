"""Training data for ``drid train classifier``: an image folder with one sub-folder per class
(what the ``harvest`` sink writes), loaded as the model will see it, and the seeded per-class
split into training, validation and held-out test parts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drid.errors import ConfigError
from drid.recognize.crops import Aspect, fit_to_size, to_model_pixels
from drid.sources.files import IMAGE_SUFFIXES

__all__ = ["Dataset", "frame_groups", "load_image_folder", "load_unlabeled_folder", "split_indices"]


@dataclass
class Dataset:
    """Images in memory (``N×H×W×C`` uint8, RGB or grey), integer labels and class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    files: list[str]
    root: str
    provenance: dict[str, Any] = field(default_factory=dict)

    def counts(self, idx: np.ndarray | None = None) -> dict[str, int]:
        y = self.labels if idx is None else self.labels[idx]
        return {c: int((y == i).sum()) for i, c in enumerate(self.classes)}



def _images_in(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in f.relative_to(folder).parts))


def _model_image(path: Path, size: tuple[int, int], channels: int, aspect: Aspect) -> np.ndarray | None:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    width, height = size
    return fit_to_size(to_model_pixels(bgr, channels), width, height, aspect).reshape(height, width, channels)


def load_image_folder(root: str | Path, size: tuple[int, int], channels: int, aspect: Aspect = "expand", classes: list[str] | None = None,
                      exclude: str | Path | None = None) -> Dataset:
    """Every image of ``root/CLASS/*`` resized to ``size`` (width, height) as the model sees it.
    ``exclude``: a folder that is not a class even when it sits in ``root`` (the unlabelled
    crops of a harvest, ``root/unlabeled``, when they are passed as ``--unlabeled``)."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise ConfigError(f"dataset folder not found: '{base}'", path="data")
    images_in = _images_in
    skip = Path(exclude).expanduser().resolve() if exclude is not None else None

    # Empty folders (an emptied 'unlabeled/' after sorting crops by hand) are not classes.
    found = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_")) and p.resolve() != skip and images_in(p))
    if classes is not None:
        missing = [c for c in classes if not (base / c).is_dir()]
        if missing:
            raise ConfigError(f"dataset '{base}' has no folder for class(es) {', '.join(missing)}", path="data")
        found = [base / c for c in classes]
    if len(found) < 2:
        raise ConfigError(f"dataset '{base}' needs at least two class folders with images (one folder per class), found {len(found)}", path="data")
    images, labels, files = [], [], []
    skipped = 0
    for k, folder in enumerate(found):
        members = images_in(folder)
        if len(members) < 2:
            raise ConfigError(f"class '{folder.name}' of dataset '{base}' has {len(members)} image(s); each class needs at least 2", path="data")
        for f in members:
            image = _model_image(f, size, channels, aspect)
            if image is None:
                skipped += 1
                continue
            images.append(image)
            labels.append(k)
            files.append(str(f.relative_to(base)))
    provenance: dict[str, Any] = {}
    harvest = base / "harvest.json"
    if harvest.is_file():
        try:
            provenance = json.loads(harvest.read_text(encoding="utf-8"))
        except ValueError:
            provenance = {"note": f"unreadable {harvest.name}"}
    if skipped:
        provenance["undecodable_files_skipped"] = skipped
    return Dataset(np.stack(images), np.asarray(labels, dtype=np.int64), [f.name for f in found], files, str(base), provenance)


def load_unlabeled_folder(root: str | Path, size: tuple[int, int], channels: int, aspect: Aspect = "expand",
                          labelled: str | Path | None = None) -> tuple[np.ndarray, list[str]]:
    """Every image under ``root`` (any depth: a harvest's ``unlabeled/`` folder, or a whole
    harvest whose folders are not trusted as labels), as the model sees it, and their paths
    relative to ``root``. ``labelled``: the labelled dataset's folder, which ``root`` must not be."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise ConfigError(f"unlabelled folder not found: '{base}'" if not base.exists() else f"'{base}' is not a folder", path="--unlabeled")
    if labelled is not None and base.resolve() == Path(labelled).expanduser().resolve():
        raise ConfigError(f"'{base}' is the labelled dataset itself; pass the folder of unlabelled images (e.g. '{base}/unlabeled')", path="--unlabeled")
    images: list[np.ndarray] = []
    files: list[str] = []
    for f in _images_in(base):
        image = _model_image(f, size, channels, aspect)
        if image is not None:
            images.append(image)
            files.append(str(f.relative_to(base)))
    if not images:
        raise ConfigError(f"unlabelled folder '{base}' has no readable images ({', '.join(sorted(IMAGE_SUFFIXES))})", path="--unlabeled")
    return np.stack(images), files


def split_indices(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                  groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class (stratified) random split with a fixed seed; every class keeps ≥ 1 training image.

    With ``groups`` (one key per image), whole groups go to one side: crops from neighbouring
    frames of a video are near-duplicates, and splitting them apart would flatter the test score."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        n = len(members)
        n_test = min(int(round(n * test_fraction)), n - 1)
        n_val = min(int(round(n * val_fraction)), n - 1 - n_test)
        if groups is None:
            idx = rng.permutation(members)
            test.extend(idx[:n_test])
            val.extend(idx[n_test:n_test + n_val])
            train.extend(idx[n_test + n_val:])
            continue
        keys = list(dict.fromkeys(groups[members].tolist()))
        order = [keys[i] for i in rng.permutation(len(keys))]
        taken_test: list[int] = []
        taken_val: list[int] = []
        rest: list[int] = []
        for key in order:
            block = members[groups[members] == key].tolist()
            if len(taken_test) < n_test and len(taken_test) + len(block) <= n - 1:
                taken_test.extend(block)
            elif len(taken_val) < n_val and len(taken_test) + len(taken_val) + len(block) <= n - 1:
                taken_val.extend(block)
            else:
                rest.extend(block)
        test.extend(taken_test)
        val.extend(taken_val)
        train.extend(rest)
    return (np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64)), np.sort(np.asarray(test, dtype=np.int64)))


def frame_groups(files: list[str], block: int) -> np.ndarray:
    """Group keys for harvested crops (``…_f000123_…`` names): the source and ``frame // block``.
    Files without a frame number are their own group."""
    keys = []
    for i, f in enumerate(files):
        m = re.search(r"^(.*)_f(\d+)_", Path(f).name)
        keys.append(f"{m.group(1)}:{int(m.group(2)) // block}" if m else f"file:{i}")
    _, codes = np.unique(np.asarray(keys), return_inverse=True)
    return codes

