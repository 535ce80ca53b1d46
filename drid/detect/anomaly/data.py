"""Where anomaly data comes from: a folder of normal images, an MVTec AD category folder, or a
texture set that drid generates (``texture:brick``).

The MVTec AD layout (Bergmann et al., 2019) of one category::

    bottle/train/good/000.png            normal training images
    bottle/test/good/000.png             normal test images
    bottle/test/broken_large/000.png     defective test images, one folder per defect kind
    bottle/ground_truth/broken_large/000_mask.png   their masks (white = defect)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["IMAGE_SUFFIXES", "TEXTURE_PREFIX", "TestSet", "image_files", "load_mvtec_test", "normal_folder", "read_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: ``texture:NAME`` names a generated texture set instead of a folder.
TEXTURE_PREFIX = "texture:"


@dataclass(frozen=True)
class TestSet:
    """Labelled test images: ``images`` (``uint8``, grey or BGR, any sizes), ``masks`` (bool, each
    the size of its image), ``kinds`` (``"good"`` or the defect kind), ``names`` (file names)."""

    images: list[np.ndarray]
    masks: list[np.ndarray]
    kinds: list[str]
    names: list[str]


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def normal_folder(path: str | Path) -> Path:
    """The folder of normal images ``path`` means: itself, or ``train/good`` of an MVTec category."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"folder not found: '{p}'")
    if not p.is_dir():
        raise ValueError(f"'{p}' is not a folder (expected a folder of normal images or an MVTec AD category folder)")
    return p / "train" / "good" if (p / "train" / "good").is_dir() else p


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot read image '{path}'")
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def read_images(path: str | Path) -> list[np.ndarray]:
    """The normal images of ``path`` (see :func:`normal_folder`), or the training and
    calibration images of ``texture:NAME``."""
    if str(path).startswith(TEXTURE_PREFIX):
        from drid.detect.anomaly.textures import texture_set

        s = texture_set(str(path)[len(TEXTURE_PREFIX):])
        return list(np.concatenate([s.train, s.calibration]))
    folder = normal_folder(path)
    files = image_files(folder)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in '{folder}'")
    return [_read(f) for f in files]


def load_mvtec_test(path: str | Path) -> TestSet:
    """The test images of an MVTec AD category folder (``test/<kind>/*``) with their masks
    (``ground_truth/<kind>/<stem>_mask.png``; good images have none), or of ``texture:NAME``."""
    if str(path).startswith(TEXTURE_PREFIX):
        from drid.detect.anomaly.textures import texture_set

        t = texture_set(str(path)[len(TEXTURE_PREFIX):]).test
        return TestSet(list(t.images), list(t.masks), list(t.kinds), [f"{k}_{i:03d}" for i, k in enumerate(t.kinds)])
    root = Path(path).expanduser()
    test = root / "test"
    if not test.is_dir():
        raise ValueError(f"'{root}' is not an MVTec AD category folder: no 'test' folder in it (expected test/good, test/<defect>, ground_truth/<defect>)")
    images, masks, kinds, names = [], [], [], []
    for kind_dir in sorted(d for d in test.iterdir() if d.is_dir()):
        kind = kind_dir.name
        for f in image_files(kind_dir):
            image = _read(f)
            if kind == "good":
                mask = np.zeros(image.shape[:2], bool)
            else:
                mask_file = root / "ground_truth" / kind / f"{f.stem}_mask.png"
                if not mask_file.is_file():
                    raise ValueError(f"no mask for '{f}': expected '{mask_file}'")
                m = cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE)
                if m is None:
                    raise ValueError(f"cannot read mask '{mask_file}'")
                if m.shape != image.shape[:2]:
                    raise ValueError(f"mask '{mask_file}' is {m.shape[1]}x{m.shape[0]}, its image {image.shape[1]}x{image.shape[0]}")
                mask = m > 0
            images.append(image)
            masks.append(mask)
            kinds.append(kind)
            names.append(f"{kind}/{f.name}")
    if not images:
        raise ValueError(f"no test images in '{test}'")
    if all(k == "good" for k in kinds) or "good" not in kinds:
        raise ValueError(f"'{test}' needs both good and defective images to be scored (found: {', '.join(sorted(set(kinds)))})")
    return TestSet(images, masks, kinds, names)
