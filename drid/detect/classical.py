"""Detectors built on OpenCV: ``hog-people``, ``cascade``, ``motion`` and ``lanes``.

Each works on ``frame.image`` (BGR uint8) and returns boxes in that image's pixel coordinates,
whatever internal ``resize`` it uses to trade recall for speed. The OpenCV calls that do the work
release the GIL, so in concurrent mode a detector overlaps with the other stages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.schemas import BoundingBox, Detection, Frame

__all__ = ["CASCADES", "CascadeDetector", "HogPeopleDetector", "LaneDetector", "MotionDetector", "cascade_path", "merge_boxes", "nms"]


# -- shared helpers ----------------------------------------------------------------------------


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Indices of the boxes kept by greedy non-maximum suppression (best score first).

    ``boxes`` is ``N×4`` xyxy; a box is dropped when its IoU with a kept, better box exceeds
    ``iou_threshold``."""
    from drid.schemas import iou_matrix

    if len(boxes) == 0:
        return []
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    iou = iou_matrix(boxes, boxes)
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= iou[i] > iou_threshold
    return keep


def merge_boxes(boxes: list[tuple[int, int, int, int]], gap: float) -> list[tuple[int, int, int, int]]:
    """Join xyxy boxes that overlap or lie within ``gap`` pixels of each other, until none do."""
    merged = [list(b) for b in boxes]
    changed = True
    while changed:
        changed = False
        i = 0
        while i < len(merged):
            a = merged[i]
            j = i + 1
            while j < len(merged):
                b = merged[j]
                if a[0] - gap <= b[2] and b[0] - gap <= a[2] and a[1] - gap <= b[3] and b[1] - gap <= a[3]:
                    a[:] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del merged[j]
                    changed = True
                else:
                    j += 1
            i += 1
    return [tuple(b) for b in merged]  # type: ignore[misc]


def _scaled(image: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return image
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=interpolation)


def _box(x: float, y: float, w: float, h: float, factor: float, frame: Frame) -> BoundingBox:
    """An ``x, y, w, h`` rectangle found at ``factor`` × the frame's size, in frame pixels, clipped."""
    return BoundingBox.from_xywh(x / factor, y / factor, w / factor, h / factor).clip(frame.width, frame.height)


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- hog-people ----------------------------------------------------------------------------------


class HogPeopleDetector:
    """Upright people: OpenCV's HOG descriptor with its pre-trained linear SVM (Dalal & Triggs),
    followed by non-maximum suppression.

    The SVM looks at 64×128 windows, so people shorter than about 100 pixels are missed unless
    ``resize`` enlarges the frame; ``resize`` below 1 and a coarser ``win_stride`` buy speed with
    recall. ``score`` is ``1 - exp(-margin)`` of the SVM margin."""

    labels = ("person",)

    class Params(_Params):
        resize: float = Field(default=1.0, gt=0.05, le=4.0, description="scale the frame by this before detecting (speed/recall: 0.5 is ~4x faster, finds only larger people)")
        win_stride: int = Field(default=8, ge=1, le=64, description="step of the detection window in pixels (8 is OpenCV's default; 16 is faster, misses more)")
        padding: int = Field(default=8, ge=0, le=64, description="padding around each window in pixels")
        scale: float = Field(default=1.05, gt=1.0, le=2.0, description="step between pyramid levels (larger is faster, misses sizes in between)")
        hit_threshold: float = Field(default=0.0, description="SVM margin a window must exceed")
        min_score: float = Field(default=0.3, ge=0.0, le=1.0, description="drop detections below this score")
        nms_iou: float = Field(default=0.4, gt=0.0, le=1.0, description="IoU above which the weaker of two overlapping boxes is dropped")
        tight: bool = Field(default=True, description="shrink the SVM window to the person inside it (the window has margins around the body)")
        label: str = Field(default="person", min_length=1)

    def __init__(self, resize: float = 1.0, win_stride: int = 8, padding: int = 8, scale: float = 1.05, hit_threshold: float = 0.0,
                 min_score: float = 0.3, nms_iou: float = 0.4, tight: bool = True, label: str = "person") -> None:
        self.resize = resize
        self.win_stride = (win_stride, win_stride)
        self.padding = (padding, padding)
        self.scale = scale
        self.hit_threshold = hit_threshold
        self.min_score = min_score
        self.nms_iou = nms_iou
        self.tight = tight
        self.label = label
        self.labels = (label,)
        self._hog: cv2.HOGDescriptor | None = None

    @staticmethod
    def _load() -> cv2.HOGDescriptor:
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        return hog

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self._hog = self._load()

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        if frame.image is None:
            return []
        if self._hog is None:  # called outside a pipeline run
            self._hog = self._load()
        image = _scaled(frame.image, self.resize)
        if image.shape[0] < 128 or image.shape[1] < 64:
            return []
        rects, weights = self._hog.detectMultiScale(
            image, hitThreshold=self.hit_threshold, winStride=self.win_stride, padding=self.padding, scale=self.scale
        )
        if len(rects) == 0:
            return []
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        scores = 1.0 - np.exp(-np.clip(np.asarray(weights, dtype=np.float64).ravel(), 0.0, None))
        if self.tight:
            # The 64×128 window holds a person about 40×100 px tall: trim the margins.
            rects = rects + rects[:, [2, 3, 2, 3]] * np.array([0.15, 0.06, -0.30, -0.10])
        xyxy = np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]])
        out = []
        for i in nms(xyxy, scores, self.nms_iou):
            if scores[i] < self.min_score:
                continue
            x, y, w, h = rects[i]
            out.append(Detection(box=_box(x, y, w, h, self.resize, frame), score=float(scores[i]), label=self.label))
        return out


# -- cascade ------------------------------------------------------------------------------------

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
    for prefix in ("haarcascade_",):
        key = key.removeprefix(prefix)
    key = key.removesuffix(".xml")
    return {"face": "frontalface", "frontal_face": "frontalface", "profile_face": "profileface", "full_body": "fullbody",
            "upper_body": "upperbody", "lower_body": "lowerbody", "plate": "russian_plate_number"}.get(key, key)


def cascade_path(name: str) -> tuple[Path, str]:
    """The XML file and default label of a cascade given by short name (``frontalface``,
    ``profile-face``, ``haarcascade_eye.xml``…) or by a path to an XML file."""
    key = _cascade_key(name)
    if key in CASCADES:
        file, label = CASCADES[key]
        return Path(cv2.data.haarcascades) / file, label
    path = Path(name).expanduser()
    if path.suffix.lower() == ".xml" or path.exists():
        if not path.is_file():
            raise ValueError(f"cascade file not found: '{name}'")
        stem = path.stem.lower()
        guess = next((lab for k, (_, lab) in CASCADES.items() if k in stem), stem.replace("_", "-"))
        return path, guess
    from drid.errors import close_matches

    raise ValueError(f"unknown cascade '{name}'{close_matches(key, CASCADES) or ''} (known: {', '.join(CASCADES)}; or give a path to an XML file)")


class CascadeDetector:
    """Objects found by a Haar or LBP cascade: the ones OpenCV ships (``frontalface``,
    ``profileface``, ``eye``, ``smile``, ``fullbody``, ``upperbody``, ``russian_plate_number``…,
    see ``drid.detect.classical.CASCADES``) by name, or any cascade XML file by path.

    The label is the cascade's object (``face``, ``eye``, ``person``…) unless ``label`` says
    otherwise. ``score`` grows with the number of neighbouring hits that support a detection
    (0.5 at ``min_neighbors``). ``profileface`` only knows faces turned one way: with
    ``both_sides`` the mirrored frame is searched too."""

    class Params(_Params):
        cascade: str = Field(default="frontalface", description="a name (frontalface, profileface, eye, smile, fullbody, upperbody, russian_plate_number, …) or a path to a cascade XML file")
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

    def __init__(self, cascade: str = "frontalface", label: str | None = None, scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size: tuple[int, int] = (24, 24), max_size: tuple[int, int] | None = None, resize: float = 1.0,
                 equalize: bool = True, both_sides: bool | None = None, nms_iou: float = 0.3) -> None:
        self.path, default_label = cascade_path(cascade)
        self.cascade = cascade
        self.label = label or default_label
        self.labels = (self.label,)
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = tuple(min_size)
        self.max_size = tuple(max_size) if max_size else None
        self.resize = resize
        self.equalize = equalize
        self.both_sides = both_sides if both_sides is not None else _cascade_key(cascade) == "profileface"
        self.nms_iou = nms_iou
        self._classifier: cv2.CascadeClassifier | None = None

    def _load(self) -> cv2.CascadeClassifier:
        classifier = cv2.CascadeClassifier(str(self.path))
        if classifier.empty():
            raise ValueError(f"cascade: '{self.path}' is not a readable cascade XML file")
        return classifier

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self._classifier = self._load()

    def _detect(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._classifier is not None
        f = self.resize
        min_size = (max(1, round(self.min_size[0] * f)), max(1, round(self.min_size[1] * f)))
        max_size = (round(self.max_size[0] * f), round(self.max_size[1] * f)) if self.max_size else (0, 0)
        rects, neighbours = self._classifier.detectMultiScale2(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=min_size, maxSize=max_size
        )
        return np.asarray(rects, dtype=np.float64).reshape(-1, 4), np.asarray(neighbours, dtype=np.float64).ravel()

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        if frame.image is None:
            return []
        if self._classifier is None:
            self._classifier = self._load()
        grey = _grey(_scaled(frame.image, self.resize))
        if self.equalize:
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
        scores = neighbours / (neighbours + max(self.min_neighbors, 1))
        xyxy = np.column_stack([rects[:, :2], rects[:, :2] + rects[:, 2:]])
        keep = nms(xyxy, scores, self.nms_iou) if self.both_sides else range(len(rects))
        return [Detection(box=_box(*rects[i], self.resize, frame), score=float(scores[i]), label=self.label) for i in keep]


# -- motion -------------------------------------------------------------------------------------


class MotionDetector:
    """Whatever moves in front of a static camera: background subtraction (MOG2 or KNN) with
    shadow removal, morphological clean-up, and one box per connected moving region above
    ``min_area``.

    Unsupervised: the background model learns from the frames themselves, so the first
    ``warmup`` frames give no detections. A frame in which most pixels change (a scene cut, a
    camera jump) restarts the model instead of reporting the whole frame. ``score`` is the
    fraction of the box that moved."""

    class Params(_Params):
        method: Literal["mog2", "knn"] = Field(default="mog2", description="background model")
        history: int = Field(default=100, ge=2, description="frames the background model remembers")
        var_threshold: float | None = Field(default=None, gt=0, description="distance threshold of the model (default 25 for mog2, 400 for knn)")
        detect_shadows: bool = Field(default=True, description="mark shadows (then they are removed, not reported as motion)")
        learning_rate: float = Field(default=-1.0, le=1.0, description="-1: automatic (1/history); 0: frozen background")
        resize: float = Field(default=1.0, gt=0.05, le=1.0, description="process at this fraction of the frame size (speed)")
        blur: int = Field(default=5, ge=0, le=31, description="Gaussian blur kernel before subtraction (0: none)")
        kernel: int = Field(default=5, ge=1, le=51, description="morphology kernel size (opening removes specks, closing joins parts)")
        dilate: int = Field(default=2, ge=0, le=20, description="dilation iterations that join the parts of one object")
        min_area: float = Field(default=400.0, ge=0, description="smallest region reported, in frame pixels")
        merge_gap: float = Field(default=0.0, ge=0, description="join regions whose boxes are closer than this, in frame pixels (objects cut by a pole or railing)")
        warmup: int = Field(default=5, ge=0, description="frames after a (re)start that only teach the model")
        reset_fraction: float = Field(default=0.6, gt=0.0, le=1.0, description="a frame with more moving pixels than this restarts the model (scene cut)")
        label: str = Field(default="motion", min_length=1)

    def __init__(self, method: str = "mog2", history: int = 100, var_threshold: float | None = None, detect_shadows: bool = True,
                 learning_rate: float = -1.0, resize: float = 1.0, blur: int = 5, kernel: int = 5, dilate: int = 2,
                 min_area: float = 400.0, merge_gap: float = 0.0, warmup: int = 5, reset_fraction: float = 0.6, label: str = "motion") -> None:
        self.method = method
        self.history = history
        self.var_threshold = var_threshold if var_threshold is not None else (25.0 if method == "mog2" else 400.0)
        self.detect_shadows = detect_shadows
        self.learning_rate = learning_rate
        self.resize = resize
        self.blur = blur | 1 if blur else 0
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))
        self.dilate = dilate
        self.min_area = min_area
        self.merge_gap = merge_gap
        self.warmup = warmup
        self.reset_fraction = reset_fraction
        self.label = label
        self.labels = (label,)
        self.resets = 0
        self._model: Any = None
        self._seen = 0
        self.last_mask: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the background (a new scene)."""
        if self.method == "mog2":
            self._model = cv2.createBackgroundSubtractorMOG2(history=self.history, varThreshold=self.var_threshold, detectShadows=self.detect_shadows)
        else:
            self._model = cv2.createBackgroundSubtractorKNN(history=self.history, dist2Threshold=self.var_threshold, detectShadows=self.detect_shadows)
        self._seen = 0

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self.reset()
        self.resets = 0

    def mask(self, image: np.ndarray) -> np.ndarray | None:
        """The cleaned foreground mask (255 = moving) at the processing size; ``None`` while
        the model warms up or just restarted."""
        if self._model is None:
            self.reset()
        small = _scaled(image, self.resize)
        if self.blur:
            small = cv2.GaussianBlur(small, (self.blur, self.blur), 0)
        raw = self._model.apply(small, learningRate=self.learning_rate)
        self._seen += 1
        # Shadows are 127 in the raw mask: keep only confident foreground.
        _, fg = cv2.threshold(raw, 200, 255, cv2.THRESH_BINARY)
        if self._seen <= self.warmup:
            return None
        if cv2.countNonZero(fg) > self.reset_fraction * fg.size:
            self.reset()
            self.resets += 1
            self._model.apply(small, learningRate=1.0)
            self._seen = 1
            return None
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self.kernel)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self.kernel)
        if self.dilate:
            fg = cv2.dilate(fg, self.kernel, iterations=self.dilate)
        return fg

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        if frame.image is None:
            return []
        fg = self.mask(frame.image)
        self.last_mask = fg
        if fg is None:
            return []
        f = self.resize
        count, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        rects = [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, _ in stats[1:count]]
        if self.merge_gap:
            rects = merge_boxes(rects, self.merge_gap * f)
        out = []
        min_area = self.min_area * f * f
        for x1, y1, x2, y2 in rects:
            w, h = x2 - x1, y2 - y1
            moving = cv2.countNonZero(fg[y1:y2, x1:x2])
            if w * h < min_area or moving < min_area / 2:
                continue
            out.append(Detection(box=_box(x1, y1, w, h, f, frame), score=float(min(1.0, moving / float(w * h))), label=self.label))
        out.sort(key=lambda d: -d.box.area)
        return out


# -- lanes --------------------------------------------------------------------------------------


class LaneDetector:
    """Lane lines seen from a forward-facing (dash) camera: grey → Gaussian blur → Canny edges →
    a trapezoidal region of interest → probabilistic Hough segments → one straight line per side,
    fitted to the segments weighted by their length.

    Each side found becomes a ``Detection`` labelled ``lane-left`` or ``lane-right`` whose
    ``polyline`` runs from the bottom of the region to its top (the box is the polyline's extent).
    ``score`` grows with the length of supporting segments. With ``smoothing`` > 0 the lines are
    averaged over frames and a side missing for up to ``hold`` frames keeps its last line."""

    labels = ("lane-left", "lane-right")

    class Params(_Params):
        blur: int = Field(default=5, ge=1, le=31, description="Gaussian blur kernel (odd)")
        canny_low: int = Field(default=50, ge=0, le=1000)
        canny_high: int = Field(default=150, ge=0, le=1000)
        roi_top: float = Field(default=0.6, ge=0.0, lt=1.0, description="top of the region of interest, as a fraction of the height")
        roi_top_width: float = Field(default=0.12, gt=0.0, le=1.0, description="width of the region's top edge, as a fraction of the width")
        roi_bottom_width: float = Field(default=0.95, gt=0.0, le=1.0, description="width of the region's bottom edge, as a fraction of the width")
        hough_threshold: int = Field(default=20, ge=1, description="votes a Hough segment needs")
        min_line_length: int = Field(default=20, ge=1, description="shortest Hough segment, pixels")
        max_line_gap: int = Field(default=150, ge=0, description="largest gap joined into one segment, pixels (dashed lines)")
        min_slope: float = Field(default=0.45, ge=0.0, description="flattest |dy/dx| a lane segment may have")
        max_slope: float = Field(default=4.0, gt=0.0, description="steepest |dy/dx| a lane segment may have")
        smoothing: float = Field(default=0.0, ge=0.0, lt=1.0, description="weight of the previous frame's line (video)")
        hold: int = Field(default=5, ge=0, description="frames a side keeps its last line when not found (with smoothing)")
        resize: float = Field(default=1.0, gt=0.05, le=1.0, description="find edges at this fraction of the frame size (speed); lines come back in frame pixels")

    def __init__(self, blur: int = 5, canny_low: int = 50, canny_high: int = 150, roi_top: float = 0.6, roi_top_width: float = 0.12,
                 roi_bottom_width: float = 0.95, hough_threshold: int = 20, min_line_length: int = 20, max_line_gap: int = 150,
                 min_slope: float = 0.45, max_slope: float = 4.0, smoothing: float = 0.0, hold: int = 5, resize: float = 1.0) -> None:
        if canny_high < canny_low:
            raise ValueError(f"canny_high ({canny_high}) must not be below canny_low ({canny_low})")
        if min_slope >= max_slope:
            raise ValueError(f"min_slope ({min_slope}) must be below max_slope ({max_slope})")
        self.blur = blur | 1
        self.canny = (canny_low, canny_high)
        self.roi = (roi_top, roi_top_width, roi_bottom_width)
        self.hough = (hough_threshold, min_line_length, max_line_gap)
        self.slopes = (min_slope, max_slope)
        self.smoothing = smoothing
        self.hold = hold
        self.resize = resize
        self._last: dict[str, tuple[np.ndarray, int]] = {}

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self._last = {}

    def region(self, width: int, height: int) -> np.ndarray:
        """The region of interest as a 4×2 int32 polygon (bottom-left, top-left, top-right, bottom-right)."""
        top, top_w, bottom_w = self.roi
        cx, y_top = width / 2, top * height
        return np.array(
            [[cx - bottom_w * width / 2, height - 1], [cx - top_w * width / 2, y_top], [cx + top_w * width / 2, y_top], [cx + bottom_w * width / 2, height - 1]],
            dtype=np.int32,
        )

    def segments(self, image: np.ndarray) -> np.ndarray:
        """Hough segments ``x1, y1, x2, y2`` inside the region of interest (``N×4``), in the
        pixels of ``image`` (found at ``resize`` × its size)."""
        if self.resize != 1.0:
            return self._segments(_scaled(image, self.resize)) / self.resize
        return self._segments(image)

    def _segments(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        grey = cv2.GaussianBlur(_grey(image), (self.blur, self.blur), 0)
        edges = cv2.Canny(grey, *self.canny)
        mask = np.zeros_like(edges)
        cv2.fillPoly(mask, [self.region(w, h)], 255)
        threshold, min_length, max_gap = self.hough
        lines = cv2.HoughLinesP(cv2.bitwise_and(edges, mask), 1, np.pi / 180, threshold, minLineLength=min_length, maxLineGap=max_gap)
        return np.zeros((0, 4)) if lines is None else lines.reshape(-1, 4).astype(np.float64)

    def fit(self, segments: np.ndarray, width: int) -> dict[str, tuple[np.ndarray, float]]:
        """One line ``x = a·y + b`` per side: ``{side: ([a, b], supporting length in pixels)}``."""
        out: dict[str, tuple[np.ndarray, float]] = {}
        if len(segments) == 0:
            return out
        x1, y1, x2, y2 = segments.T
        dx, dy = x2 - x1, y2 - y1
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(dx != 0, dy / dx, np.inf)
        length = np.hypot(dx, dy)
        mid_x = (x1 + x2) / 2
        steep = (np.abs(slope) >= self.slopes[0]) & (np.abs(slope) <= self.slopes[1])
        # Image y grows downwards: the left line rises to the right (negative slope) on the left half.
        sides = {"left": steep & (slope < 0) & (mid_x < width / 2), "right": steep & (slope > 0) & (mid_x > width / 2)}
        for side, chosen in sides.items():
            if not chosen.any():
                continue
            ys = np.concatenate([y1[chosen], y2[chosen]])
            xs = np.concatenate([x1[chosen], x2[chosen]])
            weights = np.concatenate([length[chosen], length[chosen]])
            a, b = np.polyfit(ys, xs, 1, w=np.sqrt(weights))
            out[side] = (np.array([a, b]), float(length[chosen].sum()))
        return out

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        if frame.image is None:
            return []
        h, w = frame.image.shape[:2]
        y_bottom, y_top = float(h - 1), self.roi[0] * h
        fits = self.fit(self.segments(frame.image), w)
        out = []
        for side in ("left", "right"):
            line, support = fits.get(side, (None, 0.0))
            if self.smoothing:
                line = self._smooth(side, line)
            if line is None:
                continue
            a, b = line
            points = ((a * y_bottom + b, y_bottom), (a * y_top + b, y_top))
            xs = [p[0] for p in points]
            box = BoundingBox(x1=min(xs), y1=y_top, x2=max(xs), y2=y_bottom).clip(w, h)
            score = min(1.0, support / (y_bottom - y_top)) if support else 0.5
            out.append(Detection(box=box, score=score, label=f"lane-{side}", polyline=points, meta={"side": side, "slope": float(a)}))
        return out

    def _smooth(self, side: str, line: np.ndarray | None) -> np.ndarray | None:
        previous = self._last.get(side)
        if line is None:
            if previous is None or previous[1] >= self.hold:
                self._last.pop(side, None)
                return None
            self._last[side] = (previous[0], previous[1] + 1)
            return previous[0]
        if previous is not None:
            line = self.smoothing * previous[0] + (1 - self.smoothing) * line
        self._last[side] = (line, 0)
        return line
