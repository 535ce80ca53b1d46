"""``drid train anomaly``: learn what normal looks like from defect-free images only.

The normal images are split with a fixed seed: most train the model (the autoencoder's weights,
the PaDiM Gaussian statistics or the PatchCore memory), a held-out share (``calibration_fraction``) calibrates the
threshold at a chosen image-level false-positive rate (:func:`~drid.detect.anomaly.model.calibrate`).
The threshold, the split and the timings are saved in ``NAME.json`` beside the model, with a
model card."""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drid.detect.anomaly.data import read_images
from drid.detect.anomaly.model import FEATURE_KINDS, KINDS, AnomalyModel, Kind, calibrate
from drid.detect.anomaly.padim import choose_channels, fit_gaussian
from drid.detect.anomaly.patchcore import fit_memory

__all__ = ["DEFAULTS", "TrainResult", "fit_model", "train_anomaly"]

#: Defaults. 128-pixel images: the texture sets' defects are 2 to 40 pixels across at that size,
#: and a CPU extracts their features quickly (the demo fits 80 on the loaded 2-core machine in 26 s).
#: 64 channels, each with its local mean and standard deviation over 7×7 cells (``texture_window``;
#: 14×14 pixels at stride 2): a 192-dimensional Gaussian. Chosen on all three textures: it raised
#: pixel AUROC on every one over PaDiM's 100 channels alone (brick 0.901 → 0.911, grass 0.731 →
#: 0.758, gravel 0.787 → 0.813; docs/anomaly.md), where 15×15 windows, 100 channels or a wider
#: network did not gain on all three. 40 autoencoder
#: epochs: not tuned here (the shared 2-core machine afforded 6 in the benchmark, reported as
#: such); Bergmann et al. train far longer. 5 % image-level false alarms and
#: a fifth of the normal images held out for calibration: 40 images resolve a 5 % quantile.
#: PatchCore: MEMORY_NOTE.
DEFAULTS: dict[str, Any] = {"size": 128, "dims": 64, "texture_window": 7, "epochs": 40, "fpr": 0.05, "calibration_fraction": 0.2,
                            "memory": 4000, "pool": 40000, "neighbours": 1}


@dataclass
class TrainResult:
    model: AnomalyModel
    model_path: Path | None
    train_seconds: float
    n_train: int
    n_calibration: int
    threshold: float


def fit_model(images: Any, *, kind: Kind = "padim", backbone: str = "random", weights: str = "imagenet", size: int = DEFAULTS["size"],
              dims: int = DEFAULTS["dims"], statistics: str = "shared", epochs: int = DEFAULTS["epochs"], seed: int = 0, verbose: int = 0,
              texture_window: int = DEFAULTS["texture_window"], memory: int = DEFAULTS["memory"], pool: int = DEFAULTS["pool"],
              neighbours: int = DEFAULTS["neighbours"]) -> AnomalyModel:
    """A model fitted to normal ``images`` (a sequence of ``uint8`` images, grey or BGR, any size).
    PaDiM and PatchCore: ``dims`` feature channels kept, each with its local mean and standard
    deviation over ``texture_window`` cells (0 or 1: the channels alone, as PaDiM). PatchCore: a
    memory of ``memory`` vectors chosen by greedy coreset selection among ``pool`` random
    training cells; a cell scores its mean distance to its ``neighbours`` nearest."""
    channels = 1 if all(_is_grey(im) for im in images) else 3
    if kind in FEATURE_KINDS:
        from drid.detect.anomaly.backbones import load_backbone

        network, stride = load_backbone(backbone, channels=channels, weights=weights, seed=seed)
        if texture_window < 0:
            raise ValueError(f"the texture window is a number of feature cells >= 0, got {texture_window}")
        if kind == "patchcore" and not 1 <= neighbours <= memory <= pool:
            raise ValueError(f"PatchCore needs 1 <= neighbours <= memory <= pool, got {neighbours}, {memory} and {pool}")
        model = AnomalyModel(kind, network, size, channels, stride=stride, backbone=backbone, weights=weights,
                             texture_window=texture_window if texture_window > 1 else 0)
        x = model.inputs(images)
        total = int(network.output.shape[-1])
        picked = choose_channels(total, dims, seed)
        feats = model.descriptors(x, picked)
        if kind == "padim":
            model.stats = fit_gaussian(feats, picked, kind="per-location" if statistics == "per-location" else "shared")
        else:
            model.memory = fit_memory(feats, picked, size=memory, pool=pool, k=neighbours, seed=seed)
        return model
    if kind == "ssim-ae":
        from drid.detect.anomaly.autoencoder import train_autoencoder

        if size % 16:
            raise ValueError(f"the autoencoder needs an image size that is a multiple of 16, got {size}")
        model = AnomalyModel("ssim-ae", None, size, channels, backbone="")
        network, losses = train_autoencoder(model.inputs(images), epochs=epochs, seed=seed, verbose=verbose)
        model.network = network
        model.metadata["loss"] = losses
        return model
    raise ValueError(f"unknown anomaly model '{kind}' (known: {', '.join(KINDS)})")


def _is_grey(image: np.ndarray) -> bool:
    if image.ndim == 2 or image.shape[2] == 1:
        return True
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def train_anomaly(data: str | Path | np.ndarray | list[np.ndarray], out: str | Path | None = "out/models", *, name: str = "anomaly", kind: Kind = "padim",
                  backbone: str = "random", weights: str = "imagenet", size: int = DEFAULTS["size"], dims: int = DEFAULTS["dims"],
                  statistics: str = "shared", epochs: int = DEFAULTS["epochs"], fpr: float = DEFAULTS["fpr"],
                  calibration_fraction: float = DEFAULTS["calibration_fraction"], seed: int = 0, provenance: str = "", command: str = "",
                  verbose: int = 0, texture_window: int = DEFAULTS["texture_window"], memory: int = DEFAULTS["memory"],
                  pool: int = DEFAULTS["pool"], neighbours: int = DEFAULTS["neighbours"]) -> TrainResult:
    """Train on the normal images of ``data`` (a folder of images, an MVTec AD category folder
    whose ``train/good`` is used, or an array), calibrate on the held-out share, save under
    ``out`` (``None``: do not save)."""
    import keras

    keras.utils.set_random_seed(seed)
    images = list(data) if isinstance(data, (np.ndarray, list)) else read_images(data)
    if not 0.0 < fpr < 1.0:
        raise ValueError(f"the false-positive rate is in (0, 1), got {fpr}")
    n_cal = max(1, int(round(len(images) * calibration_fraction)))
    if len(images) - n_cal < 2:
        raise ValueError(f"{len(images)} normal images are too few: need at least {n_cal + 2} ({n_cal} held out for calibration)")
    order = np.random.default_rng(seed).permutation(len(images))
    train = [images[i] for i in order[n_cal:]]
    held = [images[i] for i in order[:n_cal]]
    start = time.perf_counter()
    model = fit_model(np.asarray(train) if _same_shape(train) else train, kind=kind, backbone=backbone, weights=weights, size=size, dims=dims,
                      statistics=statistics, epochs=epochs, seed=seed, verbose=verbose, texture_window=texture_window, memory=memory,
                      pool=pool, neighbours=neighbours)
    seconds = time.perf_counter() - start
    model.threshold = calibrate(model.maps(held), fpr)
    model.metadata.update({"fpr": fpr, "calibration_images": n_cal, "train_images": len(train), "train_seconds": round(seconds, 2),
                           "statistics": statistics if kind == "padim" else None, "dims": dims if kind in FEATURE_KINDS else None,
                           "memory": memory if kind == "patchcore" else None, "pool": pool if kind == "patchcore" else None,
                           "neighbours": neighbours if kind == "patchcore" else None,
                           "epochs": epochs if kind == "ssim-ae" else None, "seed": seed, "provenance": provenance, "command": command,
                           "trained": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
    path = None
    if out is not None:
        path = model.save(Path(out) / f"{name}.keras")
        path.with_suffix(".card.md").write_text(model_card(name, model), encoding="utf-8")
    return TrainResult(model, path, seconds, len(train), n_cal, model.threshold)


def _same_shape(images: list[np.ndarray]) -> bool:
    return len({im.shape for im in images}) == 1


def model_card(name: str, model: AnomalyModel) -> str:
    m = model.metadata
    texture = f", each with its mean and standard deviation over {model.texture_window}x{model.texture_window} cells" if model.texture_window else ""
    features = f"{m.get('dims')} feature channels{texture} of the '{model.backbone}' backbone"
    what = {"padim": f"PaDiM-style Gaussian statistics ({m.get('statistics')}) of {features}",
            "patchcore": f"PatchCore-style memory of {m.get('memory')} vectors (greedy coreset of {m.get('pool')} training cells; "
                         f"score: mean distance to the {m.get('neighbours')} nearest) of {features}",
            "ssim-ae": f"convolutional autoencoder with an SSIM loss, {m.get('epochs')} epochs"}[model.kind]
    return (f"# {name}: anomaly model\n\n"
            f"- model: {what}\n- input: {model.size}x{model.size}, {'grey' if model.channels == 1 else 'RGB'}\n"
            f"- trained on {m.get('train_images')} normal images in {m.get('train_seconds')} s; {m.get('provenance') or 'data: not recorded'}\n"
            f"- threshold {model.threshold:.4g} (raw score): {m.get('fpr', 0) * 100:g} % of {m.get('calibration_images')} held-out normal "
            "images reach it (image-level false-alarm rate)\n"
            f"- trained {m.get('trained')}{'; command: ' + m['command'] if m.get('command') else ''}\n\n"
            "Scores in detections are raw / (raw + threshold): 0.5 at the threshold. Measure it on labelled defects with `drid eval anomaly`.\n")
