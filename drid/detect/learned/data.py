"""Annotated samples for training drid's detector, from COCO JSON and YOLO text files (drid's
ground-truth format is read by ``drid.eval.samples.groundtruth_samples``: the eval layer owns
it), and the augmented batches the network trains on.

A ``Sample`` keeps its picture already fitted to the network's input (aspect kept, not padded),
RGB uint8, with its boxes in those pixels, so a few thousand video frames fit in memory.
``source`` and ``frame`` say where it came from: the split (``split``) keeps neighbouring frames
of one video together."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drid.detect.learned.encoding import FILL, encode, fit_size

__all__ = ["Augment", "Sample", "fit_sample", "frame_key", "read_coco", "read_frame", "read_yolo", "render", "training_batches"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class Sample:
    """One annotated picture, fitted to the input: ``image`` RGB uint8, ``boxes`` ``K×4`` xyxy
    in its pixels, ``classes`` ``K`` indexes into the dataset's class list, ``ignore`` ``K``
    (boxes neither taught nor penalised: crowds, cut-off objects)."""

    image: np.ndarray
    boxes: Any
    classes: Any
    source: str
    frame: int | None = None
    ignore: Any = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
        self.ignore = np.asarray(self.ignore, dtype=bool).reshape(-1) if len(self.ignore) else np.zeros(len(self.boxes), bool)
        if not (len(self.boxes) == len(self.classes) == len(self.ignore)):
            raise ValueError(f"{self.source}: {len(self.boxes)} boxes, {len(self.classes)} classes and {len(self.ignore)} ignore flags")


def fit_sample(image_bgr: np.ndarray, boxes: np.ndarray, classes: Sequence[int], input_size: tuple[int, int], source: str,
               frame: int | None = None, ignore: Sequence[bool] = ()) -> Sample:
    """A ``Sample`` from a full-size BGR picture and its boxes in its pixels."""
    h, w = image_bgr.shape[:2]
    scale, nw, nh = fit_size(w, h, input_size)
    small = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    sx, sy = nw / w, nh / h
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * np.array([sx, sy, sx, sy], np.float32)
    return Sample(cv2.cvtColor(small, cv2.COLOR_BGR2RGB), b, np.asarray(classes, np.int64), source, frame, np.asarray(list(ignore), bool))


_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")


def frame_key(path: str | Path) -> tuple[str, int | None]:
    """The video and frame number a file name implies: ``clip/frame_000123.jpg`` → (``clip/frame_``, 123);
    a name without a trailing number is its own group."""
    p = Path(path)
    m = _TRAILING_NUMBER.match(p.stem)
    if m is None:
        return str(p), None
    return str(p.parent / m.group(1)), int(m.group(2))


def _read_bgr(path: Path, where: str) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{where}: cannot read image '{path}'")
    return image


def _class_index(name: str, classes: list[str], label_map: dict[str, str], fixed: bool) -> int:
    name = label_map.get(name, name)
    if name in classes:
        return classes.index(name)
    if fixed:
        return -1  # not a class of this model: dropped
    classes.append(name)
    return len(classes) - 1


def read_coco(path: str | Path, input_size: tuple[int, int], *, images: str | Path | None = None, classes: list[str] | None = None,
              label_map: dict[str, str] | None = None) -> tuple[list[Sample], list[str]]:
    """Samples of a COCO detection file (``images``, ``annotations`` with ``bbox`` ``[x, y, w, h]``,
    ``categories``); pictures are found relative to ``images`` (default: the file's folder).
    ``iscrowd`` boxes become ``ignore``. Returns the samples and the class names (categories in
    id order, or ``classes`` when given: other categories are dropped)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{p}: not a readable COCO JSON file: {exc}") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{p}: COCO file has no '{key}' list")
    root = Path(images) if images is not None else p.parent
    names = list(classes) if classes else []
    cat_to_class = {}
    for cat in sorted(data["categories"], key=lambda c: c["id"]):
        cat_to_class[cat["id"]] = _class_index(str(cat["name"]), names, label_map or {}, bool(classes))
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for i, ann in enumerate(data["annotations"]):
        if "bbox" not in ann or len(ann["bbox"]) != 4 or ann.get("category_id") not in cat_to_class:
            raise ValueError(f"{p}: annotations[{i}] needs a 4-number 'bbox' and a known 'category_id'")
        by_image.setdefault(ann["image_id"], []).append(ann)
    samples = []
    for i, info in enumerate(data["images"]):
        file = root / info["file_name"]
        anns = [a for a in by_image.get(info["id"], []) if cat_to_class[a["category_id"]] >= 0]
        boxes = [[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns]
        source, frame = (f"{p}#video{info['video_id']}", int(info["frame_id"])) if "video_id" in info and "frame_id" in info else frame_key(info["file_name"])
        samples.append(fit_sample(_read_bgr(file, f"{p}: images[{i}]"), np.array(boxes).reshape(-1, 4), [cat_to_class[a["category_id"]] for a in anns],
                                  input_size, source, frame, [bool(a.get("iscrowd", 0)) for a in anns]))
    return samples, names


def _yolo_names(folder: Path) -> list[str] | None:
    for name in ("classes.txt", "obj.names"):
        f = folder / name
        if f.is_file():
            return [line.strip() for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    for name in ("data.yaml", "dataset.yaml"):
        f = folder / name
        if f.is_file():
            import yaml

            names = (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("names")
            if isinstance(names, dict):
                return [str(names[k]) for k in sorted(names)]
            if isinstance(names, list):
                return [str(n) for n in names]
    return None


def read_yolo(folder: str | Path, input_size: tuple[int, int], *, classes: list[str] | None = None,
              label_map: dict[str, str] | None = None) -> tuple[list[Sample], list[str]]:
    """Samples of a YOLO folder: pictures with one ``.txt`` each (``class cx cy w h`` per line,
    normalised to the picture), beside them or in a parallel ``labels/`` folder of ``images/``;
    class names from ``classes.txt``, ``obj.names`` or ``data.yaml`` (``names``)."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"YOLO dataset folder not found: '{root}'")
    names_file = _yolo_names(root) or _yolo_names(root.parent)
    if names_file is None:
        raise ValueError(f"{root}: no class names (classes.txt, obj.names or data.yaml with 'names')")
    names = list(classes) if classes else []
    mapping = [_class_index(n, names, label_map or {}, bool(classes)) for n in names_file]
    pictures = sorted(f for f in root.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if not pictures:
        raise ValueError(f"{root}: no images")
    samples = []
    for pic in pictures:
        parts = list(pic.parts)
        candidates = [pic.with_suffix(".txt")]
        if "images" in parts:
            k = len(parts) - 1 - parts[::-1].index("images")
            candidates.append(Path(*parts[:k], "labels", *parts[k + 1:]).with_suffix(".txt"))
        label_file = next((c for c in candidates if c.is_file()), None)
        image = _read_bgr(pic, str(root))
        h, w = image.shape[:2]
        boxes, cls = [], []
        if label_file is not None:
            for n, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), 1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    k, cx, cy, bw, bh = int(fields[0]), *map(float, fields[1:5])
                    if len(fields) < 5 or not 0 <= k < len(mapping):
                        raise ValueError
                except ValueError:
                    raise ValueError(f"{label_file}:{n}: expected 'class cx cy w h' with class 0..{len(mapping) - 1}, got '{line.strip()}'") from None
                if mapping[k] < 0:
                    continue
                boxes.append([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
                cls.append(mapping[k])
        source, frame = frame_key(pic.relative_to(root))
        samples.append(fit_sample(image, np.array(boxes).reshape(-1, 4), cls, input_size, source, frame))
    return samples, names


def read_frame(path: Path, frame: int, where: str) -> np.ndarray:
    """Frame number ``frame`` of a video (BGR); ``ValueError`` naming ``where`` when it cannot be read."""
    cap = cv2.VideoCapture(str(path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
        ok, image = cap.read()
    finally:
        cap.release()
    if not ok or image is None:
        raise ValueError(f"{where}: cannot read frame {frame} of '{path}'")
    return image


# -- augmentation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Augment:
    """Random changes a training picture goes through: horizontal flip, zoom (``scale`` range;
    above 1 crops, below 1 shows more border), shift (a fraction of the input), colour
    (brightness, contrast, saturation, each ±). Defaults are moderate: the footage a detector
    learns from is usually a few fixed cameras, and strong changes teach it scenes it never sees."""

    flip: bool = True
    scale: tuple[float, float] = (0.7, 1.4)
    shift: float = 0.15
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    min_visible: float = 0.4  # a box cut to less than this fraction of its area is dropped (taught as background)

    @classmethod
    def off(cls) -> Augment:
        return cls(flip=False, scale=(1.0, 1.0), shift=0.0, brightness=0.0, contrast=0.0, saturation=0.0)


def render(sample: Sample, input_size: tuple[int, int], rng: np.random.Generator | None = None, augment: Augment | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sample on the input canvas (letterboxed, then augmented when ``rng`` is given):
    the RGB picture, its boxes and their classes (ignored boxes get class -1)."""
    w_in, h_in = input_size
    h, w = sample.image.shape[:2]
    a = augment or Augment()
    s, flip, tx, ty = 1.0, False, 0.0, 0.0
    if rng is not None:
        s = float(np.exp(rng.uniform(np.log(a.scale[0]), np.log(a.scale[1]))))
        flip = bool(a.flip and rng.random() < 0.5)
        tx, ty = rng.uniform(-a.shift, a.shift) * w_in, rng.uniform(-a.shift, a.shift) * h_in
    # centre the fitted picture, zoom about the input's centre, shift
    cx, cy = w_in / 2 + tx, h_in / 2 + ty
    m = np.array([[s * (-1 if flip else 1), 0.0, 0.0], [0.0, s, 0.0]])
    m[0, 2] = cx - m[0, 0] * w / 2
    m[1, 2] = cy - s * h / 2
    if np.allclose(m, [[1, 0, (w_in - w) / 2], [0, 1, (h_in - h) / 2]]) and (w_in - w) % 2 == 0 and (h_in - h) % 2 == 0:
        out = np.full((h_in, w_in, 3), FILL, np.uint8)
        dx, dy = (w_in - w) // 2, (h_in - h) // 2
        out[dy:dy + h, dx:dx + w] = sample.image
    else:
        # m maps continuous coordinates (pixel i spans [i, i+1]); warpAffine maps pixel centres
        pixel = m.copy()
        pixel[:, 2] += 0.5 * np.array([m[0, 0], m[1, 1]]) - 0.5
        out = np.asarray(cv2.warpAffine(sample.image, pixel, (w_in, h_in), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(FILL, FILL, FILL)), dtype=np.uint8)
    b = sample.boxes
    xs = b[:, [0, 2]] * m[0, 0] + m[0, 2]
    ys = b[:, [1, 3]] * m[1, 1] + m[1, 2]
    boxes = np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1).astype(np.float32)
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-6)
    clipped = np.clip(boxes, 0, [w_in, h_in, w_in, h_in]).astype(np.float32)
    visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1]) / area
    keep = (visible >= a.min_visible) & (clipped[:, 2] - clipped[:, 0] >= 2) & (clipped[:, 3] - clipped[:, 1] >= 2)
    classes = np.where(sample.ignore, -1, sample.classes)
    if rng is not None and (a.brightness or a.contrast or a.saturation):
        img = out.astype(np.float32)
        grey = img.mean(axis=2, keepdims=True)
        img = grey + (img - grey) * (1 + rng.uniform(-a.saturation, a.saturation))
        img = (img - img.mean()) * (1 + rng.uniform(-a.contrast, a.contrast)) + img.mean()
        img = img * (1 + rng.uniform(-a.brightness, a.brightness))
        out = np.asarray(np.clip(img, 0, 255), dtype=np.uint8)
    return out, clipped[keep], classes[keep]


def ignore_mask(boxes: np.ndarray, classes: np.ndarray, input_size: tuple[int, int], stride: int) -> np.ndarray:
    """Cells covered by ignored boxes (class -1): the loss skips them."""
    w_in, h_in = input_size
    mask = np.zeros((h_in // stride, w_in // stride), np.float32)
    for (x1, y1, x2, y2), c in zip(boxes, classes):
        if c < 0:
            mask[int(max(0, y1 // stride)):int(np.ceil(y2 / stride)), int(max(0, x1 // stride)):int(np.ceil(x2 / stride))] = 1.0
    return mask


def batch_arrays(samples: Iterable[Sample], n_classes: int, input_size: tuple[int, int], stride: int,
                 rng: np.random.Generator | None = None, augment: Augment | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pictures ``N×H×W×3`` (float32, 0..255 RGB) and targets ``N×h×w×(C+6)``: ``encode``'s
    layout plus an ignore mask."""
    xs, ys = [], []
    for s in samples:
        image, boxes, classes = render(s, input_size, rng, augment)
        target = encode(boxes[classes >= 0], classes[classes >= 0], n_classes, input_size, stride)
        ys.append(np.concatenate([target, ignore_mask(boxes, classes, input_size, stride)[..., None]], axis=-1))
        xs.append(image)
    return np.stack(xs).astype(np.float32), np.stack(ys)


def training_batches(samples: list[Sample], n_classes: int, input_size: tuple[int, int], stride: int, batch_size: int, seed: int,
                     augment: Augment | None = None, steps: int | None = None) -> Any:
    """A ``keras.utils.PyDataset`` of augmented batches, reshuffled each epoch with a seed of
    its own (the same run gives the same batches). ``steps`` batches make an epoch (default: one
    pass over the samples); more than a pass wraps around with fresh augmentation."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self.order = np.random.default_rng(seed).permutation(len(samples))

        def __len__(self) -> int:
            return steps or max(1, int(np.ceil(len(samples) / batch_size)))

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            rng = np.random.default_rng([seed, self.epoch, index])
            picks = np.arange(index * batch_size, (index + 1) * batch_size) % len(samples) if steps else np.arange(index * batch_size, min(len(samples), (index + 1) * batch_size))
            chosen = [samples[i] for i in self.order[picks]]
            return batch_arrays(chosen, n_classes, input_size, stride, rng, augment)

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(samples))

    return Batches()
