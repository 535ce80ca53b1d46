"""Recognition with TensorFlow/Keras: the ``keras-classifier`` plugin and :class:`ClassifierModel`
(a loaded model with its labels and one compiled inference function).

The model comes from a bundle (see :mod:`drid.recognize.bundle`) or a ``keras.applications``
architecture; crops are cut by :mod:`drid.recognize.crops`.

TensorFlow is imported when a model is loaded (``drid_start``), never at import time, so listing
plugins and validating configs stay fast.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from drid.errors import DridError
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import InputPath, Plugin, PluginParams
from drid.recognize.bundle import check_keras_archive, labels_path_for, load_keras_file, missing_labels_message, read_labels, read_metadata, resolve_model_path
from drid.recognize.crops import Aspect, crop_box, fit_to_size, to_model_pixels
from drid.schemas import BoundingBox, Detection, Frame, LabelScore, Recognition

__all__ = ["APPLICATIONS", "ClassifierModel", "KerasClassifier"]

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
            raise DridError(missing_labels_message(path))
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
            raise DridError(f"unknown architecture '{architecture}' (known: {', '.join(APPLICATIONS)})")
        module_name, size = APPLICATIONS[architecture]
        builder = getattr(keras.applications, architecture)
        module = importlib.import_module(f"keras.applications.{module_name}")
        if weights != "imagenet" and not Path(weights).expanduser().is_file():
            raise DridError(f"weights file not found: '{weights}' (use 'imagenet' or a .h5/.weights.h5 file)")
        try:
            keras_model = builder(weights=weights if weights == "imagenet" else str(Path(weights).expanduser()), input_shape=(size, size, 3))
        except Exception as exc:
            if weights == "imagenet":
                raise DridError(
                    f"cannot get the ImageNet weights of {architecture} ({type(exc).__name__}: "
                    f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else 'no detail'}). Keras downloads them once "
                    "into ~/.keras/models (or $KERAS_HOME/models); offline, copy the weights file there from a machine "
                    "with internet, or pass weights: /path/to/weights.h5"
                ) from None
            raise DridError(f"cannot load weights '{weights}' into {architecture}: {type(exc).__name__}: {exc}") from None
        if labels is not None:
            names = read_labels(Path(labels))
        elif int(keras_model.output_shape[-1]) == 1000:
            names = _imagenet_labels()
        else:
            raise DridError(f"{architecture} has {keras_model.output_shape[-1]} outputs: pass labels: PATH")
        return cls._build(keras_model, names, f"keras.applications.{architecture}", outputs, preprocess=module.preprocess_input)

    @classmethod
    def _build(cls, keras_model: Any, labels: list[str], source: str, outputs: str, *, preprocess: Any = None, metadata: dict[str, Any] | None = None) -> ClassifierModel:
        shape = keras_model.input_shape
        if isinstance(shape, list):
            raise DridError(f"'{source}' has {len(shape)} inputs; a classifier takes one image")
        if len(shape) != 4 or shape[1] is None or shape[2] is None or shape[3] not in (1, 3):
            raise DridError(f"'{source}' takes input {tuple(shape)}; expected (batch, height, width, 1 or 3) with a fixed size")
        out = keras_model.output_shape
        if isinstance(out, list) or len(out) != 2:
            raise DridError(f"'{source}' returns {out}; expected one (batch, classes) output")
        if int(out[-1]) != len(labels):
            raise DridError(f"'{source}' has {out[-1]} outputs but its label file lists {len(labels)} labels")
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
            f"cannot get the ImageNet class names ({type(exc).__name__}); Keras downloads "
            "imagenet_class_index.json once into ~/.keras/models; offline, copy it there or pass labels: PATH"
        ) from None


# -- the plugin -------------------------------------------------------------------------------------


class KerasClassifier(Plugin):
    """Classify each detection's crop with a Keras model (a .keras bundle or keras.applications), one batch per frame."""

    class Params(PluginParams):
        model: Annotated[str | None, InputPath(names=True, exists=False)] = Field(
            default=None, description="a .keras file with NAME.labels.txt beside it, or a bundled model name ('digits', or 'bundled:digits')")
        architecture: str | None = Field(default=None, description="a keras.applications architecture instead of a file, e.g. 'MobileNetV2'")
        weights: Annotated[str, InputPath(names=True)] = Field(
            default="imagenet", description="with architecture: 'imagenet' (Keras downloads and caches them) or a weights file")
        labels: Annotated[str | None, InputPath()] = Field(default=None, description="label file (one per line, output order) instead of the one beside the model")
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

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        # Cheap checks now (a config error before any frame); the model itself loads in drid_start.
        self.model_path: Path | None = None
        if p.model is not None:
            self.model_path = resolve_model_path(p.model)
            if p.labels is None and labels_path_for(self.model_path) is None:
                raise ValueError(missing_labels_message(self.model_path))
        if p.labels is not None and not Path(p.labels).expanduser().is_file():
            raise ValueError(f"label file not found: '{p.labels}'")
        self.only = set(p.only) if p.only is not None else None
        self.classifier: ClassifierModel | None = None
        self.padding = 0.1
        self.aspect: Aspect = "expand"

    def load(self) -> ClassifierModel:
        """Load the model now (``drid_start`` does this); returns it."""
        p = self.params
        if p.device == "gpu":
            import tensorflow as tf

            if not tf.config.list_logical_devices("GPU"):
                raise DridError("device 'gpu' requested but TensorFlow sees no GPU")
        if self.model_path is not None:
            check_keras_archive(self.model_path)
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
                raise ValueError(f"frame {frame.index} of '{frame.source}' has no image to crop")
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
