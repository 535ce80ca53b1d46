"""Recognition with TensorFlow/Keras: the ``keras-classifier`` plugin and the pieces it is made of.

A *model bundle* is a ``.keras`` file with its label list beside it, one label per line, in the
order of the model's outputs (``digits.keras`` + ``digits.labels.txt``; a plain ``labels.txt`` in
the same folder also counts). An optional ``NAME.json`` beside it (written by ``drid train
classifier``) records how the training crops were made, so the plugin crops the same way unless
told otherwise. Models that drid writes take RGB (or grey) pixels in 0..255 and carry their own
scaling as layers, so a bundle needs no Python code to be used: it is loaded in Keras' safe mode,
which refuses ``Lambda`` layers and other arbitrary code.

TensorFlow is imported when a model is loaded (``drid_start``), never at import time, so listing
plugins and validating configs stay fast.
"""

from __future__ import annotations

import json
import math
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from drid.errors import DridError
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.schemas import BoundingBox, Detection, Frame, LabelScore, Recognition

__all__ = [
    "APPLICATIONS",
    "BUNDLED_MODELS",
    "ClassifierModel",
    "KerasClassifier",
    "crop_box",
    "fit_to_size",
    "labels_path_for",
    "resolve_model_path",
]

Aspect = Literal["expand", "letterbox", "stretch"]

#: Where the models that ship with drid live (``model: digits`` means ``drid/recognize/models/digits.keras``).
BUNDLED_MODELS = Path(__file__).resolve().parent / "models"

#: keras.applications architectures by name: (module with ``preprocess_input``, default input size).
APPLICATIONS: dict[str, tuple[str, int]] = {
    "MobileNet": ("mobilenet", 224),
    "MobileNetV2": ("mobilenet_v2", 224),
    "MobileNetV3Small": ("mobilenet_v3", 224),
    "MobileNetV3Large": ("mobilenet_v3", 224),
    "EfficientNetB0": ("efficientnet", 224),
    "EfficientNetB1": ("efficientnet", 240),
    "EfficientNetV2B0": ("efficientnet_v2", 224),
    "ResNet50": ("resnet50", 224),
    "ResNet50V2": ("resnet_v2", 224),
    "DenseNet121": ("densenet", 224),
    "InceptionV3": ("inception_v3", 299),
    "Xception": ("xception", 299),
    "VGG16": ("vgg16", 224),
    "NASNetMobile": ("nasnet", 224),
    "ConvNeXtTiny": ("convnext", 224),
}


# -- cropping ---------------------------------------------------------------------------------


def crop_box(
    image: np.ndarray,
    box: BoundingBox,
    *,
    padding: float = 0.0,
    aspect: float | None = None,
) -> np.ndarray:
    """The pixels of ``box`` grown by ``padding`` (a fraction of its width and height on every
    side); with ``aspect`` (width / height), the shorter side is grown further, using the image
    around the box, until the crop has that aspect ratio. Parts that fall outside the image are
    filled by repeating its edge pixels. Never empty: a degenerate box gives at least 1×1."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box.x1, box.y1, box.x2, box.y2
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    bw, bh = bw * (1 + 2 * padding), bh * (1 + 2 * padding)
    if aspect is not None and aspect > 0:
        if bw / bh < aspect:
            bw = bh * aspect
        else:
            bh = bw / aspect
    iw, ih = max(int(math.floor(bw + 0.5)), 1), max(int(math.floor(bh + 0.5)), 1)
    ix1, iy1 = int(math.floor(cx - iw / 2 + 0.5)), int(math.floor(cy - ih / 2 + 0.5))
    ix2, iy2 = ix1 + iw, iy1 + ih
    cx1, cy1, cx2, cy2 = max(ix1, 0), max(iy1, 0), min(ix2, w), min(iy2, h)
    if cx2 <= cx1 or cy2 <= cy1:  # entirely outside the image: nearest edge pixel, stretched
        cx1, cy1 = min(max(ix1, 0), w - 1), min(max(iy1, 0), h - 1)
        cx2, cy2 = cx1 + 1, cy1 + 1
    crop = image[cy1:cy2, cx1:cx2]
    top, left = cy1 - iy1, cx1 - ix1
    bottom, right = iy2 - cy2, ix2 - cx2
    if top > 0 or left > 0 or bottom > 0 or right > 0:
        crop = cv2.copyMakeBorder(crop, max(top, 0), max(bottom, 0), max(left, 0), max(right, 0), cv2.BORDER_REPLICATE)
    return crop


def fit_to_size(crop: np.ndarray, width: int, height: int, aspect: Aspect = "expand") -> np.ndarray:
    """``crop`` resized to ``width`` × ``height``. ``stretch`` ignores its aspect ratio;
    ``letterbox`` keeps it and fills the rest with the crop's mean border colour; ``expand``
    (for crops already cut at the right aspect by :func:`crop_box`) keeps it and repeats the
    edge pixels. Area interpolation when shrinking, linear when enlarging."""
    ch, cw = crop.shape[:2]
    if aspect != "stretch" and cw * height != ch * width:
        target = width / height
        if cw / ch < target:
            new_w, new_h = int(round(ch * target)), ch
        else:
            new_w, new_h = cw, int(round(cw / target))
        dx, dy = new_w - cw, new_h - ch
        left, top = dx // 2, dy // 2
        if aspect == "letterbox":
            border = np.concatenate([crop[0].reshape(-1, crop.shape[2] if crop.ndim == 3 else 1),
                                     crop[-1].reshape(-1, crop.shape[2] if crop.ndim == 3 else 1),
                                     crop[:, 0].reshape(-1, crop.shape[2] if crop.ndim == 3 else 1),
                                     crop[:, -1].reshape(-1, crop.shape[2] if crop.ndim == 3 else 1)])
            value = [float(v) for v in border.mean(axis=0)]
            crop = cv2.copyMakeBorder(crop, top, dy - top, left, dx - left, cv2.BORDER_CONSTANT, value=value)
        else:
            crop = cv2.copyMakeBorder(crop, top, dy - top, left, dx - left, cv2.BORDER_REPLICATE)
        ch, cw = crop.shape[:2]
    interpolation = cv2.INTER_AREA if (cw > width or ch > height) else cv2.INTER_LINEAR
    return cv2.resize(crop, (width, height), interpolation=interpolation)


def to_model_pixels(bgr: np.ndarray, channels: int) -> np.ndarray:
    """A BGR uint8 image as the model's colour layout: RGB for 3 channels, grey for 1."""
    if channels == 1:
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        return grey[:, :, None]
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# -- model bundles ------------------------------------------------------------------------------


def resolve_model_path(model: str) -> Path:
    """A model file path, or the name of a bundled model (``digits`` → ``drid/recognize/models/digits.keras``)."""
    path = Path(model).expanduser()
    if path.suffix == "" and not path.exists() and "/" not in model and "\\" not in model:
        bundled = BUNDLED_MODELS / f"{model}.keras"
        if bundled.is_file():
            return bundled
        names = sorted(p.stem for p in BUNDLED_MODELS.glob("*.keras"))
        raise ValueError(f"no model file '{model}' and no bundled model of that name (bundled: {', '.join(names) or 'none'})")
    if not path.is_file():
        raise ValueError(f"model file not found: '{path}'")
    if path.suffix != ".keras":
        raise ValueError(f"model file '{path}' is not a .keras file (save it with model.save('name.keras'))")
    return path


def labels_path_for(model_path: Path) -> Path | None:
    """The label file of a model: ``NAME.labels.txt`` beside it, else ``labels.txt`` in its folder."""
    for candidate in (model_path.with_suffix(".labels.txt"), model_path.parent / "labels.txt"):
        if candidate.is_file():
            return candidate
    return None


def read_labels(path: Path) -> list[str]:
    """One label per line; blank lines and ``#`` comments ignored. Refuses duplicates."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DridError(f"keras-classifier: cannot read label file '{path}': {exc.strerror or exc}") from None
    labels = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not labels:
        raise DridError(f"keras-classifier: label file '{path}' has no labels")
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise DridError(f"keras-classifier: label file '{path}' repeats {', '.join(dupes)}")
    return labels


def read_metadata(model_path: Path) -> dict[str, Any]:
    """The ``NAME.json`` written by ``drid train classifier`` (empty when there is none)."""
    meta = model_path.with_suffix(".json")
    if not meta.is_file():
        return {}
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DridError(f"keras-classifier: cannot read model metadata '{meta}': {exc}") from None
    return data if isinstance(data, dict) else {}


def load_keras_file(path: Path) -> Any:
    """``keras.saving.load_model`` in safe mode, with drid's one-line errors."""
    import keras

    if not zipfile.is_zipfile(path):
        raise DridError(f"keras-classifier: '{path}' is not a valid .keras model file (not a zip archive; corrupt or truncated?)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        text = str(exc)
        if "Lambda" in text or "safe_mode" in text or "unsafe" in text.lower():
            raise DridError(
                f"keras-classifier: refused '{path}': it contains a Lambda layer or other Python code, "
                "which drid does not run from model files (safe mode); rebuild the model from standard "
                "layers (scaling as a Rescaling layer), or load it yourself if you trust its author"
            ) from None
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise DridError(f"keras-classifier: cannot load '{path}': {type(exc).__name__}: {first[:300]}") from None


@dataclass
class ClassifierModel:
    """A loaded classifier: the Keras model, its labels, input layout and one compiled inference
    function that takes ``N×H×W×C`` float32 pixels (0..255, RGB or grey) and returns probabilities."""

    model: Any
    labels: list[str]
    height: int
    width: int
    channels: int
    source: str
    preprocess: Any = None  # tensor → tensor, for keras.applications models
    logits: bool = False
    device: str = "cpu"
    metadata: dict[str, Any] = field(default_factory=dict)
    _fn: Any = field(default=None, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_file(cls, model: str | Path, labels: str | Path | None = None, outputs: str = "auto") -> ClassifierModel:
        """A ``.keras`` bundle (path or bundled name) with its label file."""
        path = resolve_model_path(str(model)) if not isinstance(model, Path) else model
        label_file = Path(labels) if labels is not None else labels_path_for(path)
        if label_file is None:
            raise DridError(
                f"keras-classifier: no label file for '{path}': expected '{path.with_suffix('.labels.txt').name}' "
                "or 'labels.txt' beside it (one label per line, in output order), or pass labels: PATH"
            )
        names = read_labels(label_file)
        keras_model = load_keras_file(path)
        return cls._build(keras_model, names, str(path), outputs, metadata=read_metadata(path))

    @classmethod
    def from_application(cls, architecture: str, weights: str = "imagenet", labels: str | Path | None = None, outputs: str = "auto") -> ClassifierModel:
        """A ``keras.applications`` architecture with ImageNet weights (downloaded once to
        ``~/.keras/models`` by Keras on a machine with internet) or weights from a file."""
        import importlib

        import keras

        if architecture not in APPLICATIONS:
            raise DridError(f"keras-classifier: unknown architecture '{architecture}' (known: {', '.join(APPLICATIONS)})")
        module_name, size = APPLICATIONS[architecture]
        builder = getattr(keras.applications, architecture)
        module = importlib.import_module(f"keras.applications.{module_name}")
        if weights != "imagenet" and not Path(weights).expanduser().is_file():
            raise DridError(f"keras-classifier: weights file not found: '{weights}' (use 'imagenet' or a .h5/.weights.h5 file)")
        try:
            keras_model = builder(weights=weights if weights == "imagenet" else str(Path(weights).expanduser()), input_shape=(size, size, 3))
        except Exception as exc:
            if weights == "imagenet":
                raise DridError(
                    f"keras-classifier: cannot get the ImageNet weights of {architecture} ({type(exc).__name__}: "
                    f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else 'no detail'}). Keras downloads them once "
                    "into ~/.keras/models (or $KERAS_HOME/models); offline, copy the weights file there from a machine "
                    "with internet, or pass weights: /path/to/weights.h5"
                ) from None
            raise DridError(f"keras-classifier: cannot load weights '{weights}' into {architecture}: {type(exc).__name__}: {exc}") from None
        if labels is not None:
            names = read_labels(Path(labels))
        elif int(keras_model.output_shape[-1]) == 1000:
            names = _imagenet_labels()
        else:
            raise DridError(f"keras-classifier: {architecture} has {keras_model.output_shape[-1]} outputs: pass labels: PATH")
        return cls._build(keras_model, names, f"keras.applications.{architecture}", outputs, preprocess=module.preprocess_input)

    @classmethod
    def _build(cls, keras_model: Any, labels: list[str], source: str, outputs: str, *, preprocess: Any = None, metadata: dict[str, Any] | None = None) -> ClassifierModel:
        shape = keras_model.input_shape
        if isinstance(shape, list):
            raise DridError(f"keras-classifier: '{source}' has {len(shape)} inputs; a classifier takes one image")
        if len(shape) != 4 or shape[1] is None or shape[2] is None or shape[3] not in (1, 3):
            raise DridError(f"keras-classifier: '{source}' takes input {tuple(shape)}; expected (batch, height, width, 1 or 3) with a fixed size")
        out = keras_model.output_shape
        if isinstance(out, list) or len(out) != 2:
            raise DridError(f"keras-classifier: '{source}' returns {out}; expected one (batch, classes) output")
        if int(out[-1]) != len(labels):
            raise DridError(f"keras-classifier: '{source}' has {out[-1]} outputs but its label file lists {len(labels)} labels")
        if outputs == "auto":
            activation = getattr(keras_model.layers[-1], "activation", None)
            logits = getattr(activation, "__name__", "") not in ("softmax", "sigmoid")
        else:
            logits = outputs == "logits"
        import tensorflow as tf

        device = "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
        return cls(model=keras_model, labels=labels, height=int(shape[1]), width=int(shape[2]), channels=int(shape[3]),
                   source=source, preprocess=preprocess, logits=logits, device=device, metadata=dict(metadata or {}))

    # -- inference -------------------------------------------------------------------------------
    def compiled(self) -> Any:
        """The inference function, traced once for any batch size (fixed input signature)."""
        if self._fn is None:
            import tensorflow as tf

            model, preprocess, logits = self.model, self.preprocess, self.logits

            def infer(x: Any) -> Any:
                if preprocess is not None:
                    x = preprocess(x)
                y = model(x, training=False)
                return tf.nn.softmax(y, axis=-1) if logits else y

            spec = tf.TensorSpec([None, self.height, self.width, self.channels], tf.float32)
            self._fn = tf.function(infer, input_signature=[spec], reduce_retracing=True)
        return self._fn

    def probabilities(self, batch: np.ndarray, max_batch: int = 32) -> np.ndarray:
        """Class probabilities of an ``N×H×W×C`` batch of 0..255 pixels, ``max_batch`` at a time.
        Each chunk is padded to the next power of two so the runtime reuses a few shapes."""
        n = len(batch)
        if n == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        fn = self.compiled()
        x = np.asarray(batch, dtype=np.float32)
        out = []
        for start in range(0, n, max_batch):
            chunk = x[start:start + max_batch]
            size = 1 << (len(chunk) - 1).bit_length()
            if size != len(chunk):
                chunk = np.concatenate([chunk, np.zeros((size - len(chunk), *chunk.shape[1:]), dtype=np.float32)])
            with self._lock:
                probs = fn(chunk).numpy()
            out.append(probs[: min(max_batch, n - start)])
        return np.concatenate(out)

    def prepare(self, image: np.ndarray, boxes: list[BoundingBox], padding: float, aspect: Aspect) -> np.ndarray:
        """Crops of ``boxes`` from a BGR image, as the model's ``N×H×W×C`` float32 input."""
        target_aspect = self.width / self.height if aspect == "expand" else None
        batch = np.empty((len(boxes), self.height, self.width, self.channels), dtype=np.float32)
        for i, box in enumerate(boxes):
            crop = crop_box(image, box, padding=padding, aspect=target_aspect)
            crop = fit_to_size(to_model_pixels(crop, self.channels), self.width, self.height, aspect)
            batch[i] = crop.reshape(self.height, self.width, self.channels)
        return batch


def _imagenet_labels() -> list[str]:
    """ImageNet class names from Keras' class index (downloaded once by Keras, like the weights)."""
    import keras

    try:
        path = keras.utils.get_file(
            "imagenet_class_index.json",
            "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
            cache_subdir="models",
            file_hash="c2c37ea517e94d9795004a39431a14cb",
        )
        index = json.loads(Path(path).read_text(encoding="utf-8"))
        return [index[str(i)][1] for i in range(1000)]
    except Exception as exc:
        raise DridError(
            f"keras-classifier: cannot get the ImageNet class names ({type(exc).__name__}); Keras downloads "
            "imagenet_class_index.json once into ~/.keras/models; offline, copy it there or pass labels: PATH"
        ) from None


# -- the plugin -------------------------------------------------------------------------------------


class KerasClassifier:
    """Classify each detection's crop with a Keras model (a .keras bundle or keras.applications), one batch per frame."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str | None = Field(default=None, description="a .keras file with NAME.labels.txt beside it, or a bundled model name (e.g. 'digits')")
        architecture: str | None = Field(default=None, description="a keras.applications architecture instead of a file, e.g. 'MobileNetV2'")
        weights: str = Field(default="imagenet", description="with architecture: 'imagenet' (Keras downloads and caches them) or a weights file")
        labels: str | None = Field(default=None, description="label file (one per line, output order) instead of the one beside the model")
        top_k: int = Field(default=3, ge=1, description="how many labels to keep per detection, best first")
        min_score: float = Field(default=0.0, ge=0.0, le=1.0, description="no recognition when the best score is below this")
        only: list[str] | None = Field(default=None, description="recognize only detections with these detector labels (e.g. [person])")
        padding: float | None = Field(default=None, ge=0.0, le=2.0, description="grow each box by this fraction per side before cropping (default: the model's training value, else 0.1)")
        aspect: Aspect | None = Field(default=None, description="'expand' the box to the model's aspect using image context, 'letterbox', or 'stretch' (default: the model's training value, else expand)")
        batch_size: int = Field(default=32, ge=1, le=1024, description="most crops per inference call")
        outputs: Literal["auto", "probabilities", "logits"] = Field(default="auto", description="whether the model ends in softmax ('auto' reads its last layer)")
        device: Literal["auto", "cpu", "gpu"] = Field(default="auto", description="'auto' uses a GPU when TensorFlow sees one")

        @model_validator(mode="after")
        def _one_source(self) -> KerasClassifier.Params:
            if (self.model is None) == (self.architecture is None):
                raise ValueError("give exactly one of 'model' (a .keras file or bundled name) and 'architecture' (a keras.applications name)")
            if self.architecture is not None and self.architecture not in APPLICATIONS:
                raise ValueError(f"unknown architecture '{self.architecture}' (known: {', '.join(APPLICATIONS)})")
            return self

    def __init__(self, model: str | None = None, architecture: str | None = None, weights: str = "imagenet", labels: str | None = None,
                 top_k: int = 3, min_score: float = 0.0, only: list[str] | None = None, padding: float | None = None,
                 aspect: Aspect | None = None, batch_size: int = 32, outputs: str = "auto", device: str = "auto") -> None:
        self.params = self.Params(model=model, architecture=architecture, weights=weights, labels=labels, top_k=top_k, min_score=min_score,
                                  only=only, padding=padding, aspect=aspect, batch_size=batch_size, outputs=outputs, device=device)
        # Cheap checks now (a config error before any frame); the model itself loads in drid_start.
        self.model_path: Path | None = None
        if model is not None:
            self.model_path = resolve_model_path(model)
            if labels is None and labels_path_for(self.model_path) is None:
                raise ValueError(
                    f"no label file for '{self.model_path}': expected '{self.model_path.with_suffix('.labels.txt').name}' "
                    "or 'labels.txt' beside it (one label per line, in output order), or pass labels: PATH"
                )
        if labels is not None and not Path(labels).expanduser().is_file():
            raise ValueError(f"label file not found: '{labels}'")
        self.only = set(only) if only is not None else None
        self.classifier: ClassifierModel | None = None
        self.padding = 0.1
        self.aspect: Aspect = "expand"

    def load(self) -> ClassifierModel:
        """Load the model now (``drid_start`` does this); returns it."""
        p = self.params
        if p.device == "gpu":
            import tensorflow as tf

            if not tf.config.list_logical_devices("GPU"):
                raise DridError("keras-classifier: device 'gpu' requested but TensorFlow sees no GPU")
        with self._device_scope():
            if self.model_path is not None:
                clf = ClassifierModel.from_file(self.model_path, p.labels, p.outputs)
            else:
                assert p.architecture is not None
                clf = ClassifierModel.from_application(p.architecture, p.weights, p.labels, p.outputs)
            if p.device == "cpu":
                clf.device = "cpu"
            crops = clf.metadata.get("crops", {}) if isinstance(clf.metadata.get("crops"), dict) else {}
            self.padding = p.padding if p.padding is not None else float(crops.get("padding", 0.1))
            self.aspect = p.aspect if p.aspect is not None else crops.get("aspect", "expand")
            # Trace and run once so the first frame is not slower than the rest.
            clf.probabilities(np.zeros((1, clf.height, clf.width, clf.channels), dtype=np.float32))
        self.classifier = clf
        return clf

    def _device_scope(self) -> Any:
        import contextlib

        if self.params.device == "cpu":
            import tensorflow as tf

            return tf.device("/CPU:0")
        return contextlib.nullcontext()

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        if self.classifier is None:
            self.load()

    def classify(self, frame: Frame, detections: list[Detection]) -> list[Recognition]:
        """The recognitions of one frame, all its crops in one batch."""
        return self.classify_many([(frame, detections)])[0]

    def classify_many(self, items: list[tuple[Frame, list[Detection]]]) -> list[list[Recognition]]:
        """The recognitions of several frames, the crops of all of them in one batch (what a
        shared stage actor serving many pipelines asks for, through :meth:`batch_call`)."""
        if self.classifier is None:
            self.load()
        clf = self.classifier
        assert clf is not None
        chosen: list[list[int]] = []
        batches = []
        for frame, detections in items:
            if frame.image is None:
                raise DridError(f"keras-classifier: frame {frame.index} of '{frame.source}' has no image to crop")
            picked = [i for i, d in enumerate(detections) if self.only is None or d.label in self.only]
            chosen.append(picked)
            if picked:
                batches.append(clf.prepare(frame.image, [detections[i].box for i in picked], self.padding, self.aspect))
        if not batches:
            return [[] for _ in items]
        with self._device_scope():
            probs = clf.probabilities(np.concatenate(batches) if len(batches) > 1 else batches[0], self.params.batch_size)
        out, start = [], 0
        for picked in chosen:
            out.append(self.to_recognitions(picked, probs[start:start + len(picked)]))
            start += len(picked)
        return out

    def batch_call(self, hook: str, calls: list[dict[str, Any]]) -> list[Any]:
        """Many callers' hook calls at once: ``drid_recognize`` calls share one inference batch."""
        if hook != "drid_recognize":
            return [getattr(self, hook)(**kwargs) for kwargs in calls]
        return self.classify_many([(kwargs["frame"], kwargs["detections"]) for kwargs in calls])

    def to_recognitions(self, indices: list[int], probs: np.ndarray) -> list[Recognition]:
        assert self.classifier is not None
        labels = self.classifier.labels
        k = min(self.params.top_k, len(labels))
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        out = []
        for row, det in enumerate(indices):
            best = order[row]
            scores = np.clip(probs[row, best].astype(float), 0.0, 1.0)
            if scores[0] < self.params.min_score:
                continue
            out.append(Recognition(detection=det, label=labels[best[0]], score=float(scores[0]),
                                   top_k=tuple(LabelScore(label=labels[j], score=float(s)) for j, s in zip(best, scores, strict=True))))
        return out

    @hookimpl
    def drid_recognize(self, frame: Frame, detections: list[Detection]) -> list[Recognition]:
        return self.classify(frame, detections)
