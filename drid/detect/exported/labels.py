"""Label maps: the names of a detector's class ids.

Two numbering schemes of COCO are in use and both are built in:

* ``coco``: the 80 classes numbered 0-79 without gaps, the order of YOLOv5/v8/11 and most ONNX
  exports;
* ``coco91``: the COCO category ids 1-90 (with ten unused ids) minus one, what models of the
  TensorFlow Object Detection API, SSD-MobileNet and EfficientDet-Lite TFLite files among them,
  output (class 0 is ``person``, class 2 ``car``, class 12 ``stop sign``).

A label map may also be a list of names or a file: one name per line (``labels.txt``; a first
line ``???`` or ``background`` is the background class of TF-OD models and shifts the ids by one),
or the TF Object Detection API's ``.pbtxt`` (``item { id: 1 name: "person" }``; its ids count from
1 and the model's from 0, so they are shifted by one).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["COCO80", "COCO91_IDS", "LabelMap", "load_labels", "parse_pbtxt"]

#: The 80 COCO class names, in the contiguous 0-79 order of YOLO models.
COCO80: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip

#: The COCO category id (1-90) of each of the 80 classes, in :data:`COCO80` order.
COCO91_IDS: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34,
    35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
    64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
)  # fmt: skip

_BACKGROUND = {"???", "background", "__background__"}


class LabelMap:
    """Class id → name. Ids the map does not name become ``class-<id>``."""

    def __init__(self, names: dict[int, str], source: str = "") -> None:
        for i, name in names.items():
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"label {i} of {source or 'the label map'} is empty")
        self.names = {int(i): n.strip() for i, n in names.items()}
        self.source = source

    def __getitem__(self, class_id: int) -> str:
        return self.names.get(int(class_id), f"class-{int(class_id)}")

    def __len__(self) -> int:
        return len(self.names)

    def id_of(self, name: str) -> int | None:
        """The id called ``name`` (exactly, else ignoring case), or ``None``."""
        for i, n in self.names.items():
            if n == name:
                return i
        lowered = name.lower()
        return next((i for i, n in self.names.items() if n.lower() == lowered), None)

    def values(self) -> tuple[str, ...]:
        return tuple(self.names[i] for i in sorted(self.names))

    @classmethod
    def from_list(cls, names: list[str] | tuple[str, ...], source: str = "", offset: int | None = None) -> LabelMap:
        """Names in class-id order; a leading background entry (``???``) shifts ids by one unless
        ``offset`` says how many entries come before class 0."""
        names = list(names)
        if offset is None:
            offset = 1 if names and names[0].strip().lower() in _BACKGROUND else 0
        return cls({i - offset: n for i, n in enumerate(names) if i >= offset and n.strip() not in _BACKGROUND}, source)


def parse_pbtxt(text: str, source: str = "") -> dict[int, str]:
    """The ``id → name`` of a TF Object Detection API label map (``item { id: 1 name: "person"
    display_name: "person" }``); ``display_name`` wins over ``name`` when both are given."""
    out: dict[int, str] = {}
    items = re.findall(r"item\s*\{(.*?)\}", text, flags=re.S)
    if not items:
        raise ValueError(f"no 'item {{ ... }}' entries in label map {source}")
    for k, body in enumerate(items):
        found_id = re.search(r"\bid\s*:\s*(-?\d+)", body)
        display = re.search(r"\bdisplay_name\s*:\s*[\"']([^\"']*)[\"']", body)
        name = re.search(r"\bname\s*:\s*[\"']([^\"']*)[\"']", body)
        label = display or name
        if found_id is None or label is None:
            raise ValueError(f"item {k} of label map {source} needs an id and a name")
        out[int(found_id.group(1))] = label.group(1)
    return out


def load_labels(spec: str | list[str] | tuple[str, ...], offset: int | None = None, base: Path | None = None) -> LabelMap:
    """A label map from ``coco``, ``coco91``, a list of names or a file (``.txt``, ``.pbtxt``).

    ``offset``: for a list or text file, how many entries come before class 0 (default: 1 when
    the first is a background line, else 0); for a ``.pbtxt``, what to subtract from its ids
    (default 1, the TF-OD convention). Placeholder entries (``???``) name no class."""
    if isinstance(spec, (list, tuple)):
        return LabelMap.from_list(list(spec), "the labels list", offset)
    if spec == "coco":
        return LabelMap(dict(enumerate(COCO80)), "coco")
    if spec == "coco91":
        return LabelMap({cid - 1: name for cid, name in zip(COCO91_IDS, COCO80, strict=True)}, "coco91")
    path = Path(spec).expanduser()
    if base is not None and not path.is_absolute() and not path.exists():
        path = base / path
    if not path.is_file():
        raise ValueError(f"label map not found: '{spec}' (give 'coco', 'coco91', a list of names, or a .txt / .pbtxt file)")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".pbtxt" or re.search(r"^\s*item\s*\{", text, flags=re.M):
        shift = 1 if offset is None else offset
        return LabelMap({i - shift: n for i, n in parse_pbtxt(text, str(path)).items()}, str(path))
    return labels_from_text(text, str(path), offset)


def labels_from_text(text: str, source: str, offset: int | None = None) -> LabelMap:
    """A label map from one name per line (blank lines at the end ignored)."""
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise ValueError(f"label file {source} is empty")
    if any(not line for line in lines):
        raise ValueError(f"label file {source} has an empty line {lines.index('') + 1} (one name per line)")
    return LabelMap.from_list(lines, source, offset)
