"""The ``motion`` detector: whatever moves in front of a static camera, by background
subtraction (OpenCV's MOG2 or KNN)."""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from drid.detect.boxes import absorb_nested, frame_box, join_stacked, merge_boxes, scaled
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Detection, Frame

__all__ = ["MotionDetector"]


class MotionDetector(Plugin):
    """Whatever moves in front of a static camera: background subtraction (MOG2 or KNN) with
    shadow removal, morphological clean-up, and one box per connected moving region above
    ``min_area``.

    One object is one box: a region lying mostly (``nested``) on a larger one is merged into it.
    A car's uniform roof or windscreen matches the road's statistics less than its edges do, so
    its motion mask is a ring with islands inside, and a small blob rides on the car's front edge;
    each island was its own box, then its own track, and was counted crossing a line (the
    Intel parking-lot clip counted 3 cars down instead of 2; with ``nested: 0.5``, 2).

    Unsupervised: the background model learns from the frames themselves, so the first
    ``warmup`` frames give no detections. A frame in which most pixels change (a scene cut, a
    camera jump) restarts the model instead of reporting the whole frame. ``score`` is the
    fraction of the box's parts (the connected regions it joins) that moved."""

    drid_name = "motion"

    # Defaults chosen on the Intel parking-lot and one-by-one clips and bikes.mp4's street; the
    # measurements behind each are in docs/counting.md ("Detections worth tracking").
    class Params(PluginParams):
        method: Literal["mog2", "knn"] = Field(default="mog2", description="background model")
        history: int = Field(default=100, ge=2, description="frames the background model remembers")
        var_threshold: float | None = Field(default=None, gt=0, description="distance threshold of the model (default 25 for mog2, 400 for knn)")
        detect_shadows: bool = Field(default=True, description="mark shadows (then they are removed, not reported as motion)")
        learning_rate: float = Field(default=-1.0, le=1.0, description="-1: automatic (1/history); 0: frozen background")
        resize: float = Field(default=1.0, gt=0.05, le=1.0, description="process at this fraction of the frame size (speed)")
        blur: int = Field(default=5, ge=0, le=31, description="Gaussian blur kernel before subtraction (0: none)")
        kernel: int = Field(default=5, ge=1, le=51, description="morphology kernel size (opening removes specks, closing joins parts)")
        dilate: int = Field(default=2, ge=0, le=20, description="dilation iterations that join the parts of one object")
        min_area: float | None = Field(default=None, ge=0, description="smallest region reported, in frame pixels (default: min_fraction of the frame)")
        min_fraction: float = Field(default=0.0075, ge=0, lt=1, description="smallest region reported, as a fraction of the frame's area (when min_area is not given)")
        merge_gap: float = Field(default=0.0, ge=0, description="join regions whose boxes are closer than this, in frame pixels (objects cut by a pole or railing)")
        stack_gap: float = Field(default=0.25, ge=0, description="join regions stacked one above the other (the head, torso and legs of a person) up to this gap, in the taller one's heights (0: never)")
        exposure: bool = Field(default=True, description="undo global brightness changes (a camera's auto-exposure) before subtraction")
        nested: float = Field(default=0.5, gt=0, description="a region with at least this fraction of its box inside a larger one is part of it (merged); above 1: never")
        warmup: int = Field(default=5, ge=0, description="frames after a (re)start that only teach the model")
        reset_fraction: float = Field(default=0.6, gt=0.0, le=1.0, description="a frame with more moving pixels than this restarts the model (scene cut)")
        label: str = Field(default="motion", min_length=1)

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        self.var_threshold = p.var_threshold if p.var_threshold is not None else (25.0 if p.method == "mog2" else 400.0)
        self.blur = p.blur | 1 if p.blur else 0  # Gaussian kernels are odd
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (p.kernel, p.kernel))
        self.labels = (p.label,)
        self.resets = 0
        self._model: Any = None
        self._seen = 0
        self._reference: np.ndarray | None = None  # a thumbnail of the background's brightness
        self.gain = 1.0
        self.last_mask: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the background (a new scene)."""
        p = self.params
        if p.method == "mog2":
            self._model = cv2.createBackgroundSubtractorMOG2(history=p.history, varThreshold=self.var_threshold, detectShadows=p.detect_shadows)
        else:
            self._model = cv2.createBackgroundSubtractorKNN(history=p.history, dist2Threshold=self.var_threshold, detectShadows=p.detect_shadows)
        self._seen = 0
        self._reference = None
        self.gain = 1.0

    def _compensate(self, small: np.ndarray) -> np.ndarray:
        """``small`` with the global brightness change since the background was learnt undone.

        A camera's auto-exposure changes the whole picture when something bright or dark comes
        in (a white car halves the parking lot's brightness in 15 frames; a person in black
        brightens the room): to the background model every pixel has changed, and the floor
        breaks out in blobs. The gain is the median over a thumbnail of background / frame, so
        the object that caused it (a minority of the pixels) does not bias it. A brighter frame
        is scaled down to the background's level. A darker one is left to the shadow test when
        shadows are detected (it takes darkening down to half the brightness, and scaling up
        would amplify the noise): it is raised only to two thirds of the background's level when
        darker still; without the shadow test it is raised all the way."""
        grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        h, w = grey.shape[:2]
        f = min(1.0, 64.0 / max(h, w))
        thumb = cv2.resize(grey, (max(int(w * f), 1), max(int(h * f), 1)), interpolation=cv2.INTER_AREA).astype(np.float32)
        if self._reference is None or self._reference.shape != thumb.shape:  # first frame, or a new frame size
            self._reference = thumb
            self.gain = 1.0
            return small
        usable = (thumb > 8) & (thumb < 247) & (self._reference > 8) & (self._reference < 247)
        if np.count_nonzero(usable) >= usable.size // 4:
            # Auto-exposure is gradual (5 % a frame on the parking lot); a jump is a scene cut,
            # which must stay a jump so that the model restarts: the gain moves 10 % a frame at most.
            wanted = float(np.median(self._reference[usable] / thumb[usable]))
            self.gain = float(np.clip(wanted, max(0.25, self.gain * 0.9), min(4.0, self.gain / 0.9)))
        rate = 1.0 / self.params.history if self.params.learning_rate < 0 else self.params.learning_rate
        self._reference += rate * (np.minimum(thumb * self.gain, 255.0) - self._reference)
        alpha = self.gain
        if self.params.detect_shadows and alpha > 1.0:
            alpha = max(1.0, alpha * 0.67)
        if abs(alpha - 1.0) < 0.02:
            return small
        return cv2.convertScaleAbs(small, alpha=alpha)

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Starts a fresh background model."""
        self.reset()
        self.resets = 0

    def mask(self, image: np.ndarray) -> np.ndarray | None:
        """The cleaned foreground mask (255 = moving) at the processing size; ``None`` while
        the model warms up or just restarted."""
        p = self.params
        if self._model is None:
            self.reset()
        small = scaled(image, p.resize)
        if self.blur:
            small = cv2.GaussianBlur(small, (self.blur, self.blur), 0)
        if p.exposure:
            small = self._compensate(small)
        raw = self._model.apply(small, learningRate=p.learning_rate)
        self._seen += 1
        # Shadows are 127 in the raw mask: keep only confident foreground.
        _, fg = cv2.threshold(raw, 200, 255, cv2.THRESH_BINARY)
        if self._seen <= p.warmup:
            return None
        if cv2.countNonZero(fg) > p.reset_fraction * fg.size:
            self.reset()
            self.resets += 1
            self._model.apply(small, learningRate=1.0)
            self._seen = 1
            return None
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self.kernel)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self.kernel)
        if p.dilate:
            fg = cv2.dilate(fg, self.kernel, iterations=p.dilate)
        return fg

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        """One box per moving region of ``frame.image``, largest first."""
        if frame.image is None:
            return []
        fg = self.mask(frame.image)
        self.last_mask = fg
        if fg is None:
            return []
        p = self.params
        f = p.resize
        count, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        parts = [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, _ in stats[1:count]]
        rects = parts
        if p.merge_gap:
            rects = merge_boxes(rects, p.merge_gap * f)
        if p.stack_gap:
            rects = join_stacked(rects, p.stack_gap)
        if p.nested <= 1.0:
            rects = absorb_nested(rects, p.nested)
        out = []
        min_area = (p.min_area if p.min_area is not None else p.min_fraction * frame.width * frame.height) * f * f
        for x1, y1, x2, y2 in rects:
            w, h = x2 - x1, y2 - y1
            moving = cv2.countNonZero(fg[y1:y2, x1:x2])
            if w * h < min_area or moving < min_area / 2:
                continue
            # The score is the share of its parts' boxes that moved: joining the pieces of a car
            # cut by a railing must not make it look less sure than each piece was.
            covered = sum((b[2] - b[0]) * (b[3] - b[1]) for b in parts if b[0] >= x1 and b[1] >= y1 and b[2] <= x2 and b[3] <= y2)
            score = moving / float(max(min(covered, w * h), 1))
            out.append(Detection(box=frame_box(x1, y1, w, h, f, frame), score=float(min(1.0, score)), label=p.label))
        out.sort(key=lambda d: -d.box.area)
        return out
