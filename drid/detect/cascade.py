"""The ``cascade`` detector: objects found by a Haar or LBP cascade, by name (the cascades OpenCV
ships) or by a path to a cascade XML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
from pydantic import Field, field_validator

from drid.detect.boxes import frame_box, nms, scaled
from drid.errors import close_matches
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import InputPath, Plugin, PluginParams
from drid.schemas import Detection, Frame

__all__ = ["CASCADES", "CascadeDetector", "cascade_path"]

#: Short names of the cascades that ship with OpenCV, and the label each one's objects get.
CASCADES: dict[str, tuple[str, str]] = {
    "frontalface": ("haarcascade_frontalface_default.xml", "face"),
    "frontalface_alt": ("haarcascade_frontalface_alt.xml", "face"),
    "frontalface_alt2": ("haarcascade_frontalface_alt2.xml", "face"),
    "frontalface_alt_tree": ("haarcascade_frontalface_alt_tree.xml", "face"),
    "profileface": ("haarcascade_profileface.xml", "face"),
    "eye": ("haarcascade_eye.xml", "eye"),
    "eye_tree_eyeglasses": ("haarcascade_eye_tree_eyeglasses.xml", "eye"),
    "lefteye": ("haarcascade_lefteye_2splits.xml", "eye"),
    "righteye": ("haarcascade_righteye_2splits.xml", "eye"),
    "smile": ("haarcascade_smile.xml", "smile"),
    "fullbody": ("haarcascade_fullbody.xml", "person"),
    "upperbody": ("haarcascade_upperbody.xml", "upper-body"),
    "lowerbody": ("haarcascade_lowerbody.xml", "lower-body"),
    "frontalcatface": ("haarcascade_frontalcatface.xml", "cat-face"),
    "frontalcatface_extended": ("haarcascade_frontalcatface_extended.xml", "cat-face"),
    "russian_plate_number": ("haarcascade_russian_plate_number.xml", "license-plate"),
    "license_plate_rus_16stages": ("haarcascade_license_plate_rus_16stages.xml", "license-plate"),
}


def _cascade_key(name: str) -> str:
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = key.removeprefix("haarcascade_").removesuffix(".xml")
    return {"face": "frontalface", "frontal_face": "frontalface", "profile_face": "profileface", "full_body": "fullbody",
            "upper_body": "upperbody", "lower_body": "lowerbody", "plate": "russian_plate_number"}.get(key, key)


def cascade_path(name: str) -> tuple[Path, str]:
    """The XML file and default label of a cascade given by short name (``frontalface``,
    ``profile-face``, ``haarcascade_eye.xml``…) or by a path to an XML file."""
    key = _cascade_key(name)
    if key in CASCADES:
        file, label = CASCADES[key]
        return Path(cv2.data.haarcascades) / file, label  # type: ignore[attr-defined]
    path = Path(name).expanduser()
    if path.suffix.lower() == ".xml" or path.exists():
        if not path.is_file():
            raise ValueError(f"cascade file not found: '{name}'")
        stem = path.stem.lower()
        guess = next((lab for k, (_, lab) in CASCADES.items() if k in stem), stem.replace("_", "-"))
        return path, guess
    raise ValueError(f"unknown cascade '{name}'{close_matches(key, CASCADES) or ''} (known: {', '.join(CASCADES)}; or give a path to an XML file)")


class CascadeDetector(Plugin):
    """Objects found by a Haar or LBP cascade: the ones OpenCV ships (``frontalface``,
    ``profileface``, ``eye``, ``smile``, ``fullbody``, ``upperbody``, ``russian_plate_number``…,
    see ``drid.detect.cascade.CASCADES``) by name, or any cascade XML file by path.

    The label is the cascade's object (``face``, ``eye``, ``person``…) unless ``label`` says
    otherwise. ``score`` grows with the number of neighbouring hits that support a detection
    (0.5 at ``min_neighbors``). ``profileface`` only knows faces turned one way: with
    ``both_sides`` the mirrored frame is searched too."""

    drid_name = "cascade"

    class Params(PluginParams):
        cascade: Annotated[str, InputPath(names=True)] = Field(default="frontalface", description="a name (frontalface, profileface, eye, smile, fullbody, upperbody, russian_plate_number, …) or a path to a cascade XML file")
        label: str | None = Field(default=None, description="label of the detections (default: the cascade's object, e.g. 'face')")
        scale_factor: float = Field(default=1.1, gt=1.0, le=2.0, description="step between pyramid levels (larger is faster, coarser)")
        min_neighbors: int = Field(default=5, ge=0, le=100, description="hits needed around a detection (higher: fewer false positives)")
        min_size: tuple[int, int] = Field(default=(24, 24), description="smallest object, width and height in frame pixels")
        max_size: tuple[int, int] | None = Field(default=None, description="largest object, width and height in frame pixels")
        resize: float = Field(default=1.0, gt=0.05, le=4.0, description="scale the frame by this before detecting (speed/recall)")
        equalize: bool = Field(default=True, description="equalise the grey-level histogram first (helps in poor light)")
        both_sides: bool | None = Field(default=None, description="also search the mirrored frame (default: only for profileface)")
        nms_iou: float = Field(default=0.3, gt=0.0, le=1.0, description="IoU above which overlapping hits (e.g. from both sides) are merged")

        @field_validator("cascade")
        @classmethod
        def _known(cls, value: str) -> str:
            cascade_path(value)
            return value

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        self.path, default_label = cascade_path(p.cascade)
        self.label = p.label or default_label
        self.labels = (self.label,)
        self.both_sides = p.both_sides if p.both_sides is not None else _cascade_key(p.cascade) == "profileface"
        self._classifier: cv2.CascadeClassifier | None = None

    def _load(self) -> cv2.CascadeClassifier:
        classifier = cv2.CascadeClassifier(str(self.path))
        if classifier.empty():
            raise ValueError(f"'{self.path}' is not a readable cascade XML file")
        return classifier

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Loads the cascade."""
        self._classifier = self._load()

    def _detect(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._classifier is not None
        p, f = self.params, self.params.resize
        min_size = (max(1, round(p.min_size[0] * f)), max(1, round(p.min_size[1] * f)))
        max_size = (round(p.max_size[0] * f), round(p.max_size[1] * f)) if p.max_size else (0, 0)
        rects, neighbours = self._classifier.detectMultiScale2(
            grey, scaleFactor=p.scale_factor, minNeighbors=p.min_neighbors, minSize=min_size, maxSize=max_size
        )
        return np.asarray(rects, dtype=np.float64).reshape(-1, 4), np.asarray(neighbours, dtype=np.float64).ravel()

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """The cascade's objects in ``frame.image`` (and in its mirror image with ``both_sides``)."""
        if frame.image is None:
            return []
        if self._classifier is None:
            self._classifier = self._load()
        p = self.params
        grey = cv2.cvtColor(scaled(frame.image, p.resize), cv2.COLOR_BGR2GRAY)
        if p.equalize:
            grey = cv2.equalizeHist(grey)
        rects, neighbours = self._detect(grey)
        if self.both_sides:
            mirrored, more = self._detect(np.ascontiguousarray(grey[:, ::-1]))
            if len(mirrored):
                mirrored[:, 0] = grey.shape[1] - mirrored[:, 0] - mirrored[:, 2]
                rects = np.vstack([rects, mirrored])
                neighbours = np.concatenate([neighbours, more])
        if len(rects) == 0:
            return []
        scores = neighbours / (neighbours + max(p.min_neighbors, 1))
        xyxy = np.column_stack([rects[:, :2], rects[:, :2] + rects[:, 2:]])
        keep = nms(xyxy, scores, p.nms_iou) if self.both_sides else range(len(rects))
        out = []
        for i in keep:
            x, y, w, h = rects[i]
            out.append(Detection(box=frame_box(x, y, w, h, p.resize, frame), score=float(scores[i]), label=self.label))
        return out
