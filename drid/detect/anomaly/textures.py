"""Real textures that installed packages ship, tiled into normal images, and a defect set built
from them with synthetic defects whose masks are known.

The textures are scikit-image's photographs of brick, grass and gravel (512×512 grey, read as files,
``skimage`` is never imported). Each texture is split by rows: the top :data:`TRAIN_ROWS` rows give
training images, the rows below give held-out images (calibration and test), so no test pixel
was ever seen in training. A test image is a random ``size``×``size`` crop of the held-out part;
a defective one carries one defect from :mod:`drid.detect.anomaly.defects` and its mask.

Use it to check an anomaly model before real defects exist::

    from drid.detect.anomaly.textures import texture_set
    data = texture_set("brick", seed=0)        # train, calibration and test images, masks
    data.write("out/textures/brick")           # as an MVTec AD folder: train/good, test/<defect>, ground_truth/<defect>
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import cv2
import numpy as np

from drid.detect.anomaly.defects import DEFECT_KINDS, add_defect

__all__ = ["TEXTURES", "TRAIN_ROWS", "LabelledImages", "TextureSet", "load_texture", "random_crops", "texture_names", "texture_set"]

#: Texture name → (package, path inside it). Photographs, public domain or BSD (scikit-image's data/README.txt).
TEXTURES: dict[str, tuple[str, str]] = {
    "brick": ("skimage", "data/brick.png"),
    "grass": ("skimage", "data/grass.png"),
    "gravel": ("skimage", "data/gravel.png"),
}
#: Rows of each 512-row texture used for training images; the rest are held out.
TRAIN_ROWS = 320


def texture_names() -> list[str]:
    return sorted(TEXTURES)


def _package_file(package: str, rel: str) -> Path:
    """A file inside an installed package, found without importing it (as drid.sources.media
    does; not imported from there, sources sit beside detect)."""
    spec = find_spec(package)
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(root) / rel).is_file():
            return Path(root) / rel
    raise ValueError(f"texture file '{rel}' not found: is '{package}' installed? (pip install scikit-image)")


def load_texture(name: str) -> np.ndarray:
    """A texture as a grey ``uint8`` array (the whole photograph)."""
    if name not in TEXTURES:
        raise ValueError(f"unknown texture '{name}' (known: {', '.join(texture_names())})")
    package, rel = TEXTURES[name]
    path = _package_file(package, rel)
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"cannot read texture '{name}' from '{path}'")
    return image


def random_crops(image: np.ndarray, n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``size``×``size`` crops of ``image`` (``n×size×size[×C]``)."""
    h, w = image.shape[:2]
    if h < size or w < size:
        raise ValueError(f"a {w}x{h} image is smaller than the {size}-pixel crops asked for")
    ys = rng.integers(0, h - size + 1, n)
    xs = rng.integers(0, w - size + 1, n)
    return np.stack([image[y:y + size, x:x + size] for y, x in zip(ys, xs)]) if n else np.zeros((0, size, size) + image.shape[2:], image.dtype)


@dataclass(frozen=True)
class LabelledImages:
    """Test images with their defect masks: ``images`` ``N×H×W`` (grey) ``uint8``, ``masks``
    ``N×H×W`` bool (all False for a good image), ``kinds`` ``"good"`` or the defect kind."""

    images: np.ndarray
    masks: np.ndarray
    kinds: tuple[str, ...]

    @property
    def labels(self) -> np.ndarray:
        """1 for a defective image, 0 for a good one."""
        return np.array([k != "good" for k in self.kinds], dtype=np.int64)


@dataclass(frozen=True)
class TextureSet:
    """Normal training images, held-out normal images for calibrating the threshold, and a
    labelled test set, all of one texture."""

    name: str
    train: np.ndarray
    calibration: np.ndarray
    test: LabelledImages

    def write(self, root: str | Path) -> Path:
        """Write the set as an MVTec AD category folder: ``train/good/*.png``,
        ``test/good/*.png``, ``test/<kind>/*.png``, ``ground_truth/<kind>/*_mask.png``; the
        calibration images go to ``train/good`` too (training holds its own share out). Returns the folder."""
        root = Path(root)
        (root / "train" / "good").mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(np.concatenate([self.train, self.calibration])):
            cv2.imwrite(str(root / "train" / "good" / f"{i:03d}.png"), image)
        counts: dict[str, int] = {}
        for image, mask, kind in zip(self.test.images, self.test.masks, self.test.kinds):
            k = counts.get(kind, 0)
            counts[kind] = k + 1
            (root / "test" / kind).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / "test" / kind / f"{k:03d}.png"), image)
            if kind != "good":
                (root / "ground_truth" / kind).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / "ground_truth" / kind / f"{k:03d}_mask.png"), mask.astype(np.uint8) * 255)
        return root


def texture_set(name: str, *, size: int = 128, n_train: int = 200, n_calibration: int = 40, n_good: int = 40, n_per_kind: int = 15,
                kinds: tuple[str, ...] = DEFECT_KINDS, seed: int = 0) -> TextureSet:
    """The defect set of texture ``name``: ``n_train`` training crops from the top rows,
    ``n_calibration`` and ``n_good`` normal crops and ``n_per_kind`` defective crops of each kind
    from the held-out rows. The pasted foreign texture comes from another texture's held-out rows."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])  # each texture its own defects
    texture = load_texture(name)
    top, bottom = texture[:TRAIN_ROWS], texture[TRAIN_ROWS:]
    train = random_crops(top, n_train, size, rng)
    calibration = random_crops(bottom, n_calibration, size, rng)
    others = [load_texture(o)[TRAIN_ROWS:] for o in texture_names() if o != name]
    images, masks, labels = [], [], []
    for image in random_crops(bottom, n_good, size, rng):
        images.append(image)
        masks.append(np.zeros(image.shape[:2], bool))
        labels.append("good")
    for kind in kinds:
        for image in random_crops(bottom, n_per_kind, size, rng):
            foreign = random_crops(others[int(rng.integers(len(others)))], 1, size, rng)[0] if others else None
            defective, mask = add_defect(image, kind, rng, foreign=foreign)
            images.append(defective)
            masks.append(mask)
            labels.append(kind)
    test = LabelledImages(np.stack(images), np.stack(masks), tuple(labels))
    return TextureSet(name, train, calibration, test)
