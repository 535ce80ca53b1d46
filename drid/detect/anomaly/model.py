"""An anomaly model as the plugin, the trainer and the evaluation use it: images in, raw anomaly
maps out, a calibrated threshold, and the files it is saved as.

A saved model is ``NAME.keras`` (the network: the autoencoder, or the feature extractor of the
PaDiM and PatchCore models) with ``NAME.json`` beside it (kind, image size, channels, backbone,
calibrated threshold and how it was calibrated), ``NAME.npz`` for the Gaussian statistics of a
PaDiM model or the memory of a PatchCore model, and ``NAME.card.md``.
A ``keras:NAME`` backbone is not saved (its weights are the user's): the JSON names it and it is
rebuilt when the model loads.

Every image is resized to ``size``×``size`` (as MVTec AD papers do) and its map resized back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from drid.detect.anomaly.padim import GaussianStats, mahalanobis_map, texture_statistics
from drid.detect.anomaly.patchcore import MemoryBank, memory_map

__all__ = ["FEATURE_KINDS", "FORMAT", "KINDS", "AnomalyModel", "Kind", "calibrate", "normalize", "prepare"]

Kind = Literal["padim", "patchcore", "ssim-ae"]
#: Every model kind, and those that score features of a backbone (the rest reconstruct the image).
KINDS: tuple[Kind, ...] = ("padim", "patchcore", "ssim-ae")
FEATURE_KINDS: tuple[Kind, ...] = ("padim", "patchcore")
#: Version of the saved format.
FORMAT = 1
#: Gaussian smoothing (σ in pixels of the ``size`` image) of a PaDiM or PatchCore map, as both papers (σ 4 at 224 pixels).
PADIM_SIGMA = 4.0
#: Reflection padding around an image before feature extraction: border cells see mirrored texture, not zeros.
PAD = 16


def prepare(image: np.ndarray, size: int, channels: int) -> np.ndarray:
    """One image (grey ``H×W``, BGR ``H×W×3`` or ``H×W×1``, ``uint8``) as the model's input:
    ``size×size×channels`` float32 in 0..255 (grey, or RGB)."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3 and channels == 1:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    elif img.ndim == 2 and channels == 3:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR)
    img = img.astype(np.float32)
    return img[..., None] if img.ndim == 2 else img


def calibrate(maps: np.ndarray, fpr: float) -> float:
    """The threshold under which the peaks of all but a share ``fpr`` of the normal ``maps`` lie:
    the image-level false-alarm rate of the detector (an image is flagged when any pixel reaches
    the threshold). Interpolated quantile of the per-image peaks."""
    if len(maps) == 0:
        raise ValueError("calibration needs held-out normal images")
    peaks = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1).max(axis=1)
    return float(np.quantile(peaks, 1.0 - fpr))


def normalize(raw: np.ndarray, threshold: float) -> np.ndarray:
    """Raw scores as scores in [0, 1): ``raw / (raw + threshold)``, monotone, 0.5 at the threshold."""
    r = np.maximum(np.asarray(raw, dtype=np.float32), 0.0)
    return r / (r + np.float32(threshold))


@dataclass
class AnomalyModel:
    """A trained anomaly model. ``network`` is the Keras model (autoencoder or feature
    extractor); ``stats`` the Gaussian statistics of a PaDiM model, ``memory`` the memory of a
    PatchCore model; ``threshold`` the calibrated raw score (``None`` before calibration)."""

    kind: Kind
    network: Any
    size: int
    channels: int
    stats: GaussianStats | None = None
    stride: int = 2
    backbone: str = "random"
    weights: str = "imagenet"
    threshold: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 16
    #: PaDiM and PatchCore: the window (feature cells) of the local mean and standard deviation added
    #: to each kept channel (:func:`~drid.detect.anomaly.padim.texture_statistics`); 0: the features alone.
    texture_window: int = 0
    memory: MemoryBank | None = None

    # -- inference -------------------------------------------------------------------------

    def inputs(self, images: Any) -> np.ndarray:
        return np.stack([prepare(im, self.size, self.channels) for im in images]) if len(images) else np.zeros((0, self.size, self.size, self.channels), np.float32)

    def features(self, x: np.ndarray, channels: np.ndarray | None = None) -> np.ndarray:
        """Feature maps (``N×h×w×C``) of prepared images ``x``, reflection-padded by :data:`PAD`."""
        net_in = np.repeat(x, 3, axis=-1) if self.backbone.startswith("keras:") and x.shape[-1] == 1 else x
        padded = np.pad(net_in, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)), mode="reflect")
        cut = PAD // self.stride
        out = []
        for i in range(0, len(padded), self.batch_size):
            f = np.asarray(self.network.predict_on_batch(padded[i:i + self.batch_size]))[:, cut:-cut, cut:-cut]
            out.append(f if channels is None else f[..., channels])
        return np.concatenate(out) if out else np.zeros((0, 0, 0, 0), np.float32)

    def descriptors(self, x: np.ndarray, channels: np.ndarray) -> np.ndarray:
        """What the PaDiM statistics and the PatchCore memory model: the kept ``channels`` of the features of prepared
        images ``x``, with their local texture statistics when ``texture_window`` is set."""
        f = self.features(x, channels)
        return texture_statistics(f, self.texture_window) if self.texture_window > 1 and len(f) else f

    def maps(self, images: Any) -> np.ndarray:
        """Raw anomaly maps (``N×size×size`` float32, higher = more anomalous) of images of any size."""
        x = self.inputs(images)
        if self.kind in FEATURE_KINDS:
            if self.kind == "padim":
                if self.stats is None:
                    raise ValueError("this PaDiM model has no Gaussian statistics (not fitted)")
                cells = mahalanobis_map(self.descriptors(x, self.stats.channels), self.stats)
            else:
                if self.memory is None:
                    raise ValueError("this PatchCore model has no memory (not fitted)")
                cells = memory_map(self.descriptors(x, self.memory.channels), self.memory)
            return np.stack([cv2.GaussianBlur(cv2.resize(c, (self.size, self.size), interpolation=cv2.INTER_LINEAR), (0, 0), PADIM_SIGMA)
                             for c in cells]).astype(np.float32) if len(cells) else np.zeros((0, self.size, self.size), np.float32)
        out: list[np.ndarray] = []
        for i in range(0, len(x), self.batch_size):
            batch = x[i:i + self.batch_size]
            rec = np.asarray(self.network.predict_on_batch(batch))
            out.extend(np.clip(1.0 - ssim_map_batch(batch / 255.0, rec), 0.0, 2.0))
        return np.stack(out).astype(np.float32) if out else np.zeros((0, self.size, self.size), np.float32)

    # -- files -------------------------------------------------------------------------------

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write ``NAME.keras``, ``NAME.json`` and (PaDiM, PatchCore) ``NAME.npz``; returns the .keras path."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"an anomaly model is saved as NAME.keras, got '{path}'")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.backbone.startswith("keras:") or self.kind not in FEATURE_KINDS:
            self.network.save(path)
            from drid.recognize.bundle import deflate

            deflate(path)
        else:
            path.unlink(missing_ok=True)
        if self.stats is not None:
            np.savez_compressed(path.with_suffix(".npz"), mean=self.stats.mean, precision=self.stats.precision, channels=self.stats.channels)
        if self.memory is not None:
            m = self.memory
            np.savez_compressed(path.with_suffix(".npz"), vectors=m.vectors, center=m.center, scale=m.scale, channels=m.channels, k=np.array(m.k))
        meta = {**self.metadata, **(extra or {}), "format": FORMAT, "kind": self.kind, "size": self.size, "channels": self.channels,
                "stride": self.stride, "backbone": self.backbone, "weights": self.weights, "threshold": self.threshold,
                "texture_window": self.texture_window}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        self.metadata = meta
        return path

    @classmethod
    def load(cls, path: str | Path) -> AnomalyModel:
        """Read a model saved by :meth:`save` (``path`` is the .keras file; for a ``keras:``
        backbone it need not exist, the .json beside it is what counts)."""
        from drid.recognize.bundle import load_keras_file

        path = Path(path)
        meta_path = path.with_suffix(".json")
        if not meta_path.is_file():
            raise ValueError(f"'{path}' is not an anomaly model: no '{meta_path.name}' beside it (written by drid train anomaly)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read '{meta_path}': {exc}") from None
        if not isinstance(meta, dict) or meta.get("kind") not in KINDS:
            raise ValueError(f"'{meta_path}' does not describe an anomaly model (its 'kind' is not {', '.join(KINDS)})")
        backbone = str(meta.get("backbone", "random"))
        stats, memory = None, None
        if meta["kind"] in FEATURE_KINDS:
            npz = path.with_suffix(".npz")
            if not npz.is_file():
                raise ValueError(f"the {meta['kind']} model '{path}' has no {'statistics' if meta['kind'] == 'padim' else 'memory'} file '{npz.name}' beside it")
            with np.load(npz) as z:
                if meta["kind"] == "padim":
                    stats = GaussianStats(z["mean"], z["precision"], z["channels"])
                else:
                    memory = MemoryBank.from_arrays(z)
        if meta["kind"] in FEATURE_KINDS and backbone.startswith("keras:"):
            from drid.detect.anomaly.backbones import load_backbone

            network, _ = load_backbone(backbone, channels=int(meta["channels"]), weights=str(meta.get("weights", "imagenet")))
        else:
            if not path.is_file():
                raise ValueError(f"model file not found: '{path}'")
            network = load_keras_file(path)
        return cls(kind=meta["kind"], network=network, size=int(meta["size"]), channels=int(meta["channels"]), stats=stats,
                   stride=int(meta.get("stride", 2)), backbone=backbone, weights=str(meta.get("weights", "imagenet")),
                   threshold=None if meta.get("threshold") is None else float(meta["threshold"]), metadata=meta,
                   texture_window=int(meta.get("texture_window") or 0), memory=memory)


def ssim_map_batch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`~drid.detect.anomaly.autoencoder.ssim_map` of each pair of ``N×H×W×C`` batches."""
    from drid.detect.anomaly.autoencoder import ssim_map

    return np.stack([ssim_map(x, y) for x, y in zip(a, b)])
