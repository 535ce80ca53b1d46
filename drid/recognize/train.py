"""Train an image classifier for the ``keras-classifier`` plugin.

The dataset is an image folder, one sub-folder per class (what the ``harvest`` sink writes). The
images are split per class with a fixed seed into training, validation (early stopping) and
held-out test parts; the test part is used once, at the end, through the saved model file exactly
as the plugin will load it. Written together under ``--out``: ``NAME.keras``, ``NAME.labels.txt``,
``NAME.json`` (crop settings, metrics), ``NAME.card.md`` (provenance, metrics, date),
``NAME.confusion.png`` and ``NAME.curves.png``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drid.errors import ConfigError
from drid.recognize.bundle import deflate
from drid.recognize.classifier import ClassifierModel
from drid.recognize.crops import Aspect
from drid.recognize.dataset import frame_groups, load_image_folder, split_indices
from drid.recognize.networks import augmenter, build_backbone, build_small_cnn
from drid.recognize.report import model_card, plot_confusion, plot_curves

__all__ = ["TrainResult", "train_classifier"]


@dataclass
class TrainResult:
    """What a training run produced and measured."""

    model_path: Path
    labels_path: Path
    card_path: Path
    confusion_png: Path
    curves_png: Path
    test_accuracy: float
    val_accuracy: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    epochs: int
    split: dict[str, int]
    history: dict[str, list[float]]



class _TqdmEpochs:
    """A progress bar over epochs (Keras' own per-batch bar is too chatty for small datasets)."""

    def __new__(cls, total: int, enabled: bool) -> Any:
        import keras
        from tqdm import tqdm

        class Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs: Any = None) -> None:
                self.bar = tqdm(total=total, unit="epoch", desc="training", file=sys.stderr, disable=not enabled, dynamic_ncols=True)

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                logs = logs or {}
                self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")})
                self.bar.update(1)

            def on_train_end(self, logs: Any = None) -> None:
                self.bar.close()

        return Callback()



def train_classifier(
    data: str | Path,
    out: str | Path,
    *,
    name: str = "classifier",
    size: tuple[int, int] = (32, 32),
    channels: int = 3,
    aspect: Aspect = "expand",
    padding: float | None = None,
    backbone: str | None = None,
    weights: str = "imagenet",
    unfreeze: int = 0,
    epochs: int = 30,
    patience: int = 5,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    flip: bool = False,
    augment: bool = True,
    balance: bool = True,
    group_frames: int = 0,
    seed: int = 0,
    filters: tuple[int, ...] = (16, 32, 64),
    dropout: float = 0.3,
    batch_norm: bool = True,
    provenance: str = "",
    progress: bool = True,
    command: str = "",
) -> TrainResult:
    """Train, evaluate on the held-out split and write the model bundle; see the module docstring."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    if backbone is not None and channels != 3:
        raise ConfigError("a keras.applications backbone takes colour input: use --channels 3", path="--channels")
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 0.9:
        raise ConfigError(f"validation ({val_fraction}) and test ({test_fraction}) fractions must be in [0, 1) and leave training data", path="--val-fraction")
    width, height = size
    started = time.perf_counter()
    ds = load_image_folder(data, (width, height), channels, aspect)
    groups = frame_groups(ds.files, group_frames) if group_frames > 0 else None
    train_idx, val_idx, test_idx = split_indices(ds.labels, val_fraction, test_fraction, seed, groups)
    no_val = len(val_idx) == 0
    if no_val:
        val_idx = train_idx  # tiny datasets: early stopping watches the training data
    keras.utils.set_random_seed(seed)
    n_classes = len(ds.classes)
    if backbone is None:
        model, base = build_small_cnn(height, width, channels, n_classes, filters, dropout, batch_norm), None
    else:
        model, base = build_backbone(backbone, weights, height, width, n_classes)
    import tensorflow as tf

    x_train = ds.images[train_idx].astype(np.float32)
    y_train = ds.labels[train_idx]
    augment_layers = augmenter(flip, seed)
    train_data = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda x, y: (augment_layers(x, training=True), y) if augment else (x, y), num_parallel_calls=1, deterministic=True)
        .prefetch(2)
    )
    val_data = (ds.images[val_idx].astype(np.float32), ds.labels[val_idx])
    class_weight = None
    if balance:
        counts = np.bincount(y_train, minlength=n_classes).astype(np.float64)
        class_weight = {i: float(len(y_train) / (n_classes * c)) if c else 0.0 for i, c in enumerate(counts)}

    def fit(n_epochs: int, lr: float) -> dict[str, list[float]]:
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        calm = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(2, patience // 2), min_lr=lr / 50, verbose=0)
        h = model.fit(train_data, validation_data=val_data, epochs=n_epochs, class_weight=class_weight, verbose=0, shuffle=False,
                      callbacks=[stop, calm, _TqdmEpochs(n_epochs, progress)])
        return {k: [float(v) for v in vs] for k, vs in h.history.items() if k != "learning_rate"}

    history = fit(epochs, learning_rate)
    if base is not None and unfreeze > 0:
        base.trainable = True
        for layer in base.layers[:-unfreeze]:
            layer.trainable = False
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        more = fit(max(epochs // 2, 1), learning_rate / 10)
        for k, vs in more.items():
            history.setdefault(k, []).extend(vs)
    val_losses = history.get("val_loss", [0.0])
    best_epoch = int(np.argmin(val_losses)) + 1

    target = Path(out).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    model_path = target / f"{name}.keras"
    labels_path = target / f"{name}.labels.txt"
    # Saved without the optimizer's state: a third of the size, and nothing the plugin needs.
    bare = keras.models.clone_model(model)
    bare.set_weights(model.get_weights())
    bare.save(model_path)
    deflate(model_path)
    labels_path.write_text("\n".join(ds.classes) + "\n", encoding="utf-8")
    harvested = ds.provenance.get("padding")
    crop_padding = padding if padding is not None else (float(harvested) if isinstance(harvested, (int, float)) else 0.1)
    meta: dict[str, Any] = {"crops": {"padding": crop_padding, "aspect": aspect}}
    (target / f"{name}.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    # The held-out test split, through the saved file as the plugin loads it (safe mode).
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    saved = ClassifierModel.from_file(model_path)
    eval_idx = test_idx if len(test_idx) else val_idx
    probs = saved.probabilities(ds.images[eval_idx].astype(np.float32), max_batch=64)
    pred = probs.argmax(axis=1)
    truth = ds.labels[eval_idx]
    test_acc = float((pred == truth).mean()) if len(truth) else float("nan")
    val_pred = saved.probabilities(ds.images[val_idx].astype(np.float32), max_batch=64).argmax(axis=1)
    val_acc = float((val_pred == ds.labels[val_idx]).mean())
    prec, rec, _, support = precision_recall_fscore_support(truth, pred, labels=list(range(n_classes)), zero_division=0)
    per_class = {c: {"precision": float(prec[i]), "recall": float(rec[i]), "support": int(support[i])} for i, c in enumerate(ds.classes)}
    cm = confusion_matrix(truth, pred, labels=list(range(n_classes)))
    split_name = "held-out test" if len(test_idx) else "validation (no test split)"
    confusion_png = target / f"{name}.confusion.png"
    curves_png = target / f"{name}.curves.png"
    plot_confusion(cm, ds.classes, confusion_png, f"{name}: {split_name} split, accuracy {test_acc:.3f} (n={len(truth)})")
    plot_curves(history, curves_png, best_epoch)

    meta.update({
        "name": name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "labels": ds.classes,
        "input": {"height": height, "width": width, "channels": channels, "pixels": "0..255, RGB" if channels == 3 else "0..255, grey"},
        "architecture": backbone or ("small-cnn" if batch_norm else "small-cnn without batch norm"),
        "parameters": int(model.count_params()),
        "seed": seed,
        "split_by": f"blocks of {group_frames} frames" if group_frames > 0 else "image",
        "split": {"train": int(len(train_idx)), "validation": 0 if no_val else int(len(val_idx)), "test": int(len(test_idx))},
        "epochs_run": len(history.get("loss", [])),
        "best_epoch": best_epoch,
        "test_accuracy": test_acc,
        "validation_accuracy": val_acc,
        "per_class": per_class,
        "confusion": cm.tolist(),
        "data": {"folder": str(Path(data)), "counts": ds.counts(), "provenance": provenance, "harvest": ds.provenance},
        "train_seconds": round(time.perf_counter() - started, 1),
        "command": command,
    })
    (target / f"{name}.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    card_path = target / f"{name}.card.md"
    card_path.write_text(model_card(meta, model_path, split_name), encoding="utf-8")
    return TrainResult(model_path, labels_path, card_path, confusion_png, curves_png, test_acc, val_acc, per_class, cm.tolist(),
                       len(history.get("loss", [])), meta["split"], history)

