"""The ``mtcnn-faces`` detector: faces and their five landmarks by MTCNN (Zhang et al. 2016), the
pretrained TensorFlow networks of the ``mtcnn`` package (MIT licence; the weights ship inside its
wheel, nothing is downloaded).

MTCNN runs three networks in a cascade: PNet proposes faces over an image pyramid, RNet refines
the proposals, ONet scores the survivors and places the landmarks. The pyramid's first level
scales the frame so a face of ``min_face_size`` pixels becomes PNet's 12-pixel window; each
further level shrinks it by ``scale_factor``. A larger ``min_face_size`` or a smaller
``scale_factor`` means fewer, smaller levels: faster, but small faces or faces between two levels
are missed.

Frames of the same size are batched: one call of the networks per batch (``detect_many``, and
``batch_call`` when a Ray stage actor gathers frames of several sources).
"""

from __future__ import annotations

import threading
from itertools import groupby
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from drid.detect.batched import BatchedDetector
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import PluginParams
from drid.schemas import BoundingBox, Detection, Frame

__all__ = ["LANDMARKS", "SPEEDS", "MTCNNFaces"]

#: The five landmarks, in the order of MTCNN's output; "left"/"right" as seen in the image.
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

#: ``speed`` → pyramid ``scale_factor``. ``balanced`` (the default) is the paper's and the
#: package's 0.709: each level halves the area. Measured on drid's face ground truth (packaged,
#: shared and faces-video.json; docs/detection.md has the table): balanced is the only setting
#: that finds every face of the portraits and photographs (recall 1.0 on both); ``fast`` (0.5)
#: runs 2-3x the frames per second and matches it on faces of 50 px and more but misplaces a
#: 23 px face (shared recall 0.83); ``accurate`` (0.8) finds one more heavily compressed carphone
#: face (faces-video recall 0.87 against 0.80) and misplaces the same small face.
SPEEDS: dict[str, float] = {"fast": 0.5, "balanced": 0.709, "accurate": 0.8}

#: PNet's window: the smallest image a pyramid level may have.
_PNET_WINDOW = 12


def pyramid_scales(width: int, height: int, min_face_size: int, scale_factor: float) -> np.ndarray:
    """The scales of MTCNN's image pyramid: the first maps a ``min_face_size`` face to PNet's
    12-pixel window, each next one is ``scale_factor`` times the last, down to the last level
    whose shorter side still holds the window.

    The ``mtcnn`` package (1.0.0) counts its levels from the frame size alone, ignoring the first
    scale: with ``min_face_size`` above 20 or ``scale_factor`` above 0.709 its last levels are
    smaller than the window, PNet fails on them and the package reports *no face at all*. This is
    the corrected count."""
    first = _PNET_WINDOW / min_face_size
    shorter = min(width, height)
    if shorter * first < _PNET_WINDOW:
        return np.zeros(0)
    count = int(np.floor(np.log(_PNET_WINDOW / (shorter * first)) / np.log(scale_factor) + 1e-9)) + 1
    return first * scale_factor ** np.arange(count)


def _build_mtcnn(landmarks: bool, device: str) -> Any:
    """An ``mtcnn.MTCNN`` whose PNet stage builds the corrected pyramid (:func:`pyramid_scales`)."""
    import tensorflow as tf
    from mtcnn import MTCNN
    from mtcnn.stages import StageONet, StagePNet, StageRNet
    from mtcnn.utils.bboxes import generate_bounding_box, resize_to_square, smart_nms_from_bboxes, upscale_bboxes
    from mtcnn.utils.images import scale_images

    def compiled(model: Any) -> Any:
        # The package calls its Keras networks eagerly, op by op: as graphs (one per network, any
        # input size) they run several times faster on small frames.
        return tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    class _PNet(StagePNet):
        def __init__(self) -> None:
            super().__init__()
            self._model = compiled(self.model)

        def __call__(self, images_normalized: Any, images_oshapes: Any, min_face_size: int = 20, min_size: int = 12,
                     scale_factor: float = 0.709, threshold_pnet: float = 0.6, nms_pnet1: float = 0.5, nms_pnet2: float = 0.7,
                     **kwargs: Any) -> np.ndarray:
            # The batch is padded to its largest frame: one pyramid for all of it.
            height, width = int(images_normalized.shape[1]), int(images_normalized.shape[2])
            scales = pyramid_scales(width, height, min_face_size, scale_factor)
            batch_size = int(images_normalized.shape[0])
            found = []
            for scale in scales:
                reg, cls = self._model(scale_images(images_normalized, scale))
                proposals = generate_bounding_box(reg, cls, threshold_pnet)
                upscaled = upscale_bboxes(proposals, np.asarray([scale] * batch_size))
                found.append(smart_nms_from_bboxes(upscaled, threshold=nms_pnet1, method="union", initial_sort=False))
            boxes = np.concatenate(found, axis=0) if found else np.empty((0, 6))
            boxes = smart_nms_from_bboxes(boxes, threshold=nms_pnet2, method="union", initial_sort=True)
            return resize_to_square(boxes)

    # The package finds "no face" by catching the error the next network raises on zero
    # proposals (and TensorFlow logs it each time): an empty stage input answers empty instead.
    class _RNet(StageRNet):
        def __init__(self) -> None:
            super().__init__()
            self._model = compiled(self.model)

        def __call__(self, bboxes_batch: np.ndarray, **kwargs: Any) -> np.ndarray:
            return np.empty((0, 6)) if len(bboxes_batch) == 0 else super().__call__(bboxes_batch=bboxes_batch, **kwargs)

    class _ONet(StageONet):
        def __init__(self) -> None:
            super().__init__()
            self._model = compiled(self.model)

        def __call__(self, bboxes_batch: np.ndarray, **kwargs: Any) -> np.ndarray:
            return np.empty((0, 16)) if len(bboxes_batch) == 0 else super().__call__(bboxes_batch=bboxes_batch, **kwargs)

    stages = [_PNet(), _RNet()] + ([_ONet()] if landmarks else [])
    return MTCNN(stages=stages, device=device)


class MTCNNFaces(BatchedDetector):
    """Faces with five landmarks (eyes, nose, mouth corners in ``keypoints``) by MTCNN, the
    pretrained TensorFlow cascade of the ``mtcnn`` package; frames of one size are batched.

    ``speed`` (or an explicit ``scale_factor``) trades recall for speed, ``min_face_size`` sets
    the smallest face searched for, in frame pixels. ``score`` is the last network's face
    probability; ``thresholds`` are the three networks' cut-offs (the last is the minimum score).
    Without ``landmarks`` the third network is skipped (faster; boxes are RNet's, coarser)."""

    drid_name = "mtcnn-faces"

    class Params(PluginParams):
        min_face_size: int = Field(default=20, ge=12, le=4096, description="smallest face searched for, in frame pixels: the image pyramid starts there (larger: faster; a face a little smaller may still be found)")
        speed: Literal["fast", "balanced", "accurate"] = Field(default="balanced", description="image-pyramid density: fast (scale 0.5), balanced (0.709), accurate (0.8)")
        scale_factor: float | None = Field(default=None, ge=0.3, le=0.9, description="pyramid step, overrides speed (smaller: fewer levels, faster)")
        thresholds: tuple[float, float, float] = Field(default=(0.6, 0.7, 0.8), description="face-probability cut-offs of PNet, RNet and ONet (the last is the minimum score)")
        landmarks: bool = Field(default=True, description="run ONet for the five landmarks and refined boxes (false: faster, coarser)")
        label: str = Field(default="face", min_length=1, description="label of the detections")
        batch_size: int = Field(default=8, ge=1, le=256, description="frames of one size sent through the networks together")
        device: str = Field(default="auto", description="TensorFlow device: auto (first GPU, else CPU), cpu, gpu, or a name like 'GPU:1'")

        @model_validator(mode="after")
        def _thresholds(self) -> MTCNNFaces.Params:
            if not all(0.0 <= t <= 1.0 for t in self.thresholds):
                raise ValueError(f"thresholds must lie in [0, 1], got {list(self.thresholds)}")
            return self

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        self.labels = (p.label,)
        self.scale_factor = p.scale_factor if p.scale_factor is not None else SPEEDS[p.speed]
        pnet, rnet, onet = p.thresholds
        self._options = {"min_face_size": p.min_face_size, "scale_factor": self.scale_factor,
                         "threshold_pnet": pnet, "threshold_rnet": rnet, "threshold_onet": onet}
        self._model: Any = None
        self._lock = threading.Lock()

    def _device(self) -> str:
        name = self.params.device
        if name in ("auto", "gpu"):
            import tensorflow as tf

            gpus = tf.config.list_logical_devices("GPU")
            if gpus:
                return "GPU:0"
            if name == "gpu":
                raise RuntimeError("device 'gpu' requested but TensorFlow sees no GPU")
            return "CPU:0"
        return "CPU:0" if name == "cpu" else name

    def load(self) -> Any:
        """The three networks, built once (weights from the ``mtcnn`` wheel)."""
        with self._lock:
            if self._model is None:
                self._model = _build_mtcnn(self.params.landmarks, self._device())
            return self._model

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        """Builds the networks and runs them once, so the first frame is not slower than the rest."""
        self.load()
        self._run([np.zeros((64, 64, 3), dtype=np.uint8)])

    def detect_many(self, frames: list[Frame]) -> list[list[Detection]]:
        """The faces of several frames; frames of the same size go through the networks together,
        ``batch_size`` at a time."""
        out: list[list[Detection]] = [[] for _ in frames]
        sized = [(i, f.image.shape[:2]) for i, f in enumerate(frames) if f.image is not None and min(f.image.shape[:2]) >= self.params.min_face_size]
        sized.sort(key=lambda item: item[1])
        for _, group in groupby(sized, key=lambda item: item[1]):
            indices = [i for i, _ in group]
            for start in range(0, len(indices), self.params.batch_size):
                chunk = indices[start:start + self.params.batch_size]
                rows = self._run([cv2.cvtColor(frames[i].image, cv2.COLOR_BGR2RGB) for i in chunk])  # type: ignore[arg-type]
                for slot, i in enumerate(chunk):
                    out[i] = self._detections(rows[rows[:, 0] == slot])
        return out

    def _run(self, images: list[np.ndarray]) -> np.ndarray:
        """MTCNN's rows for ``images``: ``[image, x1, y1, x2, y2, score, 5 x's, 5 y's]``."""
        model = self.load()
        rows = model.detect_faces(images if len(images) > 1 else images[0], box_format="xyxy", output_type="numpy", **self._options)
        rows = np.asarray(rows, dtype=np.float64)
        return rows.reshape(-1, rows.shape[-1]) if rows.size else np.zeros((0, 16))

    def _detections(self, rows: np.ndarray) -> list[Detection]:
        out = []
        for row in rows[np.argsort(-rows[:, 5], kind="stable")]:
            x1, y1, x2, y2 = (float(v) for v in row[1:5])
            if x2 <= x1 or y2 <= y1:
                continue
            keypoints = None
            if self.params.landmarks and len(row) >= 16:
                keypoints = {name: (float(row[6 + k]), float(row[11 + k])) for k, name in enumerate(LANDMARKS)}
            out.append(Detection(box=BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2), score=float(np.clip(row[5], 0.0, 1.0)),
                                 label=self.params.label, keypoints=keypoints))
        return out
