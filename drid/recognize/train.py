"""Train an image classifier for the ``keras-classifier`` plugin.

The dataset is an image folder, one sub-folder per class (what the ``harvest`` sink writes). The
images are split per class with a fixed seed into training, validation (early stopping) and
held-out test parts; the test part is used once, at the end, through the saved model file exactly
as the plugin will load it. Written together under ``--out``: ``NAME.keras``, ``NAME.labels.txt``,
``NAME.json`` (crop settings, metrics), ``NAME.card.md`` (provenance, metrics, date),
``NAME.confusion.png`` and ``NAME.curves.png``.

Semi-supervised (:mod:`drid.recognize.semi`): with ``unlabeled`` (a folder of images without
labels, e.g. a harvest's ``unlabeled/``) the default method is ``fixmatch``, pseudo-label
self-training with consistency for a fixed number of steps after a supervised start; with
``augment_with="acgan"`` an AC-GAN is trained first on the labelled (and unlabelled) training
images and its class-conditional samples fill half of every labelled batch
(``NAME.acgan.png`` shows them, a row per class). Either way the model is the same small CNN
and loads in ``keras-classifier`` unchanged; ``NAME.json`` and the card say how it was trained
(method, labelled and unlabelled counts, settings, the supervised start's accuracy).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from drid.errors import ConfigError
from drid.recognize.bundle import deflate
from drid.recognize.classifier import ClassifierModel
from drid.recognize.crops import Aspect
from drid.recognize.dataset import frame_groups, load_image_folder, load_unlabeled_folder, split_indices
from drid.recognize.networks import augmenter, build_backbone, build_small_cnn
from drid.recognize.report import model_card, plot_confusion, plot_curves

__all__ = ["METHODS", "TrainResult", "train_classifier"]

#: The ways ``drid train classifier`` learns: from labels only, or with unlabelled images too.
METHODS = ("supervised", "fixmatch")


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
    training: dict[str, Any] = field(default_factory=dict)
    samples_png: Path | None = None



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
    unlabeled: str | Path | None = None,
    method: str | None = None,
    augment_with: Literal["acgan"] | None = None,
    fixmatch: Any = None,
    acgan: Any = None,
    acgan_per_class: int = 200,
) -> TrainResult:
    """Train, evaluate on the held-out split and write the model bundle; see the module docstring.

    ``method``: ``supervised`` (the default without ``unlabeled``) or ``fixmatch`` (the default
    with it); ``fixmatch`` / ``acgan``: a :class:`~drid.recognize.semi.FixMatchConfig` /
    :class:`~drid.recognize.semi.ACGANConfig` (their defaults otherwise); ``acgan_per_class``:
    generated images kept per class."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    method = method or ("fixmatch" if unlabeled is not None else "supervised")
    if method not in METHODS:
        raise ConfigError(f"unknown method '{method}' (known: {', '.join(METHODS)})", path="--method")
    if method == "fixmatch" and unlabeled is None:
        raise ConfigError("method 'fixmatch' learns from unlabelled images: pass --unlabeled DIR", path="--method")
    if augment_with not in (None, "acgan"):
        raise ConfigError(f"unknown augmentation '{augment_with}' (known: acgan)", path="--augment")
    step_loop = method == "fixmatch" or augment_with is not None
    if step_loop and backbone is not None:
        raise ConfigError(f"--method {method}{' --augment acgan' if augment_with else ''} trains the small CNN; drop --backbone", path="--backbone")
    import keras

    if backbone is not None and channels != 3:
        raise ConfigError("a keras.applications backbone takes colour input: use --channels 3", path="--channels")
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 0.9:
        raise ConfigError(f"validation ({val_fraction}) and test ({test_fraction}) fractions must be in [0, 1) and leave training data", path="--val-fraction")
    width, height = size
    started = time.perf_counter()
    ds = load_image_folder(data, (width, height), channels, aspect, exclude=unlabeled)
    x_unlabelled = load_unlabeled_folder(unlabeled, (width, height), channels, aspect, labelled=data)[0] if unlabeled is not None else None
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

    training: dict[str, Any] = {"method": method, "labelled": int(len(train_idx)),
                                "unlabelled": int(len(x_unlabelled)) if x_unlabelled is not None else 0}
    if unlabeled is not None:
        training["unlabelled_folder"] = str(Path(unlabeled))
    samples_png: Path | None = None
    target = Path(out).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    if step_loop:
        from drid.recognize.semi import ACGAN, ACGANConfig, FixMatchConfig, fit_fixmatch, sample_grid

        config = fixmatch if fixmatch is not None else FixMatchConfig(flip=flip)
        x_syn = y_syn = None
        if augment_with == "acgan":
            gan_config = acgan if acgan is not None else ACGANConfig()
            gan = ACGAN.train(x_train, y_train, n_classes, x_unlabelled, gan_config, seed=seed, progress=progress)
            x_syn, y_syn, passed = gan.sample(acgan_per_class, seed=seed)
            samples_png = sample_grid(gan, ds.classes, target / f"{name}.acgan.png", seed=seed)
            training["acgan"] = {**gan_config.as_dict(), "kept_per_class": {c: int((y_syn == i).sum()) for i, c in enumerate(ds.classes)},
                                 "pass_rate": round(passed, 4), "samples_png": samples_png.name,
                                 "trained_on": {"labelled": int(len(x_train)), "unlabelled": training["unlabelled"]}}
            keras.utils.set_random_seed(seed)
        semi_history = fit_fixmatch(
            model, x_train, y_train, x_unlabelled if method == "fixmatch" else None, config, seed=seed,
            x_val=ds.images[val_idx].astype(np.float32), y_val=ds.labels[val_idx], x_synthetic=x_syn, y_synthetic=y_syn,
            class_weight=np.asarray([class_weight[i] for i in range(n_classes)]) if class_weight else None, progress=progress)
        training["steps"] = config.as_dict()
        if "start_val_accuracy" in semi_history:
            training["supervised_start"] = {"validation_accuracy": semi_history["start_val_accuracy"][0],
                                            "validation_loss": semi_history["start_val_loss"][0], "steps": config.supervised_steps}
        history = {k: v for k, v in semi_history.items() if not k.startswith("start_")}
    else:
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
    # The step loop keeps its last (moving-average) weights; model.fit the best epoch's.
    best_epoch = len(val_losses) if step_loop else int(np.argmin(val_losses)) + 1

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
    if step_loop:
        every = int(history["step"][0]) if history.get("step") else 1
        plot_curves(history, curves_png, best_epoch, f"{method}{' + AC-GAN samples' if augment_with else ''}: learning curves",
                    metrics=(("accuracy", "-", "accuracy (labelled batch)"), ("val_accuracy", "--", "val accuracy"),
                             ("mask", ":", "unlabelled share ≥ threshold")),
                    x_label=f"evaluation (every {every} steps)")
    else:
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
        "training": training,
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
                       len(history.get("loss", [])), meta["split"], history, training, samples_png)

