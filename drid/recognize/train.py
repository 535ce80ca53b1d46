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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drid.errors import ConfigError, DridError
from drid.recognize.classifier import APPLICATIONS, Aspect, ClassifierModel, fit_to_size, to_model_pixels
from drid.sources.files import IMAGE_SUFFIXES

__all__ = ["BUNDLE_SUFFIXES", "Dataset", "TrainResult", "build_small_cnn", "copy_bundle", "load_image_folder", "train_classifier"]

#: The files of a model bundle, written together by ``train_classifier`` and read by ``keras-classifier``.
BUNDLE_SUFFIXES = (".keras", ".labels.txt", ".json", ".card.md")


def copy_bundle(model_path: Path, target: Path, name: str) -> Path:
    """Copy the bundle of ``model_path`` (every ``BUNDLE_SUFFIXES`` file) into ``target`` as
    ``NAME.*``; returns the copied ``.keras`` file."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for suffix in BUNDLE_SUFFIXES:
        shutil.copy2(model_path.with_suffix(suffix), target / f"{name}{suffix}")
    return target / f"{name}.keras"

#: How each keras.applications family wants its input, rebuilt from standard layers (safe mode).
_FAMILY_SCALING = {
    "mobilenet": "tf", "mobilenet_v2": "tf", "inception_v3": "tf", "xception": "tf", "nasnet": "tf", "resnet_v2": "tf",
    "mobilenet_v3": "none", "efficientnet": "none", "efficientnet_v2": "none", "convnext": "none",
    "densenet": "torch", "resnet50": "caffe", "vgg16": "caffe",
}


@dataclass
class Dataset:
    """Images in memory (``N×H×W×C`` uint8, RGB or grey), integer labels and class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    files: list[str]
    root: str
    provenance: dict[str, Any] = field(default_factory=dict)

    def counts(self, idx: np.ndarray | None = None) -> dict[str, int]:
        y = self.labels if idx is None else self.labels[idx]
        return {c: int((y == i).sum()) for i, c in enumerate(self.classes)}


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


def load_image_folder(root: str | Path, size: tuple[int, int], channels: int, aspect: Aspect = "expand", classes: list[str] | None = None) -> Dataset:
    """Every image of ``root/CLASS/*`` resized to ``size`` (width, height) as the model sees it."""
    base = Path(root).expanduser()
    if not base.is_dir():
        raise ConfigError(f"dataset folder not found: '{base}'", path="data")
    def images_in(folder: Path) -> list[Path]:
        return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)

    # Empty folders (an emptied 'unlabeled/' after sorting crops by hand) are not classes.
    found = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_")) and images_in(p))
    if classes is not None:
        missing = [c for c in classes if not (base / c).is_dir()]
        if missing:
            raise ConfigError(f"dataset '{base}' has no folder for class(es) {', '.join(missing)}", path="data")
        found = [base / c for c in classes]
    if len(found) < 2:
        raise ConfigError(f"dataset '{base}' needs at least two class folders with images (one folder per class), found {len(found)}", path="data")
    width, height = size
    images, labels, files = [], [], []
    skipped = 0
    for k, folder in enumerate(found):
        members = images_in(folder)
        if len(members) < 2:
            raise ConfigError(f"class '{folder.name}' of dataset '{base}' has {len(members)} image(s); each class needs at least 2", path="data")
        for f in members:
            bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if bgr is None:
                skipped += 1
                continue
            images.append(fit_to_size(to_model_pixels(bgr, channels), width, height, aspect).reshape(height, width, channels))
            labels.append(k)
            files.append(str(f.relative_to(base)))
    provenance: dict[str, Any] = {}
    harvest = base / "harvest.json"
    if harvest.is_file():
        try:
            provenance = json.loads(harvest.read_text(encoding="utf-8"))
        except ValueError:
            provenance = {"note": f"unreadable {harvest.name}"}
    if skipped:
        provenance["undecodable_files_skipped"] = skipped
    return Dataset(np.stack(images), np.asarray(labels, dtype=np.int64), [f.name for f in found], files, str(base), provenance)


def split_indices(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                  groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class (stratified) random split with a fixed seed; every class keeps ≥ 1 training image.

    With ``groups`` (one key per image), whole groups go to one side: crops from neighbouring
    frames of a video are near-duplicates, and splitting them apart would flatter the test score."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        n = len(members)
        n_test = min(int(round(n * test_fraction)), n - 1)
        n_val = min(int(round(n * val_fraction)), n - 1 - n_test)
        if groups is None:
            idx = rng.permutation(members)
            test.extend(idx[:n_test])
            val.extend(idx[n_test:n_test + n_val])
            train.extend(idx[n_test + n_val:])
            continue
        keys = list(dict.fromkeys(groups[members].tolist()))
        order = [keys[i] for i in rng.permutation(len(keys))]
        taken_test: list[int] = []
        taken_val: list[int] = []
        rest: list[int] = []
        for key in order:
            block = members[groups[members] == key].tolist()
            if len(taken_test) < n_test and len(taken_test) + len(block) <= n - 1:
                taken_test.extend(block)
            elif len(taken_val) < n_val and len(taken_test) + len(taken_val) + len(block) <= n - 1:
                taken_val.extend(block)
            else:
                rest.extend(block)
        test.extend(taken_test)
        val.extend(taken_val)
        train.extend(rest)
    return (np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64)), np.sort(np.asarray(test, dtype=np.int64)))


def frame_groups(files: list[str], block: int) -> np.ndarray:
    """Group keys for harvested crops (``…_f000123_…`` names): the source and ``frame // block``.
    Files without a frame number are their own group."""
    import re

    keys = []
    for i, f in enumerate(files):
        m = re.search(r"^(.*)_f(\d+)_", Path(f).name)
        keys.append(f"{m.group(1)}:{int(m.group(2)) // block}" if m else f"file:{i}")
    _, codes = np.unique(np.asarray(keys), return_inverse=True)
    return codes


def build_small_cnn(height: int, width: int, channels: int, n_classes: int, filters: tuple[int, ...] = (16, 32, 64), dropout: float = 0.3,
                    batch_norm: bool = True) -> Any:
    """The default model: convolution blocks (conv, batch norm, ReLU, max pooling), global average
    pooling, dropout and a softmax layer. Input is 0..255 pixels; scaling is a layer."""
    import keras
    from keras import layers

    inputs = keras.Input((height, width, channels), name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", use_bias=not batch_norm, name=f"conv{i + 1}")(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x) if min(height, width) >> (i + 1) >= 2 else x
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def build_backbone(architecture: str, weights: str, height: int, width: int, n_classes: int, dropout: float = 0.2) -> tuple[Any, Any]:
    """A ``keras.applications`` backbone (frozen when pre-trained) with its input scaling as standard
    layers and a new softmax head. Returns (model, backbone)."""
    import keras
    from keras import layers

    if architecture not in APPLICATIONS:
        raise ConfigError(f"unknown backbone '{architecture}' (known: {', '.join(APPLICATIONS)})", path="--backbone")
    module, _ = APPLICATIONS[architecture]
    builder = getattr(keras.applications, architecture)
    w = None if weights == "none" else weights
    try:
        base = builder(include_top=False, weights=w, input_shape=(height, width, 3), pooling="avg")
    except Exception as exc:
        if weights == "imagenet":
            raise DridError(
                f"cannot get the ImageNet weights of {architecture} ({type(exc).__name__}); Keras downloads them once into "
                "~/.keras/models; offline, copy the 'notop' weights file there, pass --weights PATH, or --weights none"
            ) from None
        raise DridError(f"cannot build {architecture} with weights '{weights}': {type(exc).__name__}: {exc}") from None
    base.trainable = w is None  # random weights: the whole network learns; pre-trained: only the head
    inputs = keras.Input((height, width, 3), name="pixels")
    scaling = _FAMILY_SCALING.get(module, "tf")
    x = inputs
    if scaling == "tf":
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(x)
    elif scaling == "torch":
        x = layers.Rescaling(1.0 / 255.0, name="scale")(x)
        x = layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229**2, 0.224**2, 0.225**2], name="normalize")(x)
    elif scaling == "caffe":
        # RGB → BGR and mean subtraction as a fixed 1×1 convolution (no Lambda layer needed).
        swap = layers.Conv2D(3, 1, name="rgb_to_bgr_centered", trainable=False)
        x = swap(x)
        kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
        for i in range(3):
            kernel[0, 0, i, 2 - i] = 1.0
        swap.set_weights([kernel, -np.array([103.939, 116.779, 123.68], dtype=np.float32)])
    x = base(x, training=False)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name=f"{architecture.lower()}_classifier"), base


def _augmenter(flip: bool, seed: int) -> Any:
    import keras
    from keras import layers

    steps = [
        layers.RandomTranslation(0.08, 0.08, fill_mode="nearest", seed=seed),
        layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 1),
        layers.RandomRotation(0.03, fill_mode="nearest", seed=seed + 2),
        layers.RandomContrast(0.2, value_range=(0, 255), seed=seed + 3),
        layers.RandomBrightness(0.15, value_range=(0, 255), seed=seed + 4),
    ]
    if flip:
        steps.insert(0, layers.RandomFlip("horizontal", seed=seed + 5))
    return keras.Sequential(steps, name="augment")


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


def _plot_confusion(matrix: np.ndarray, classes: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 + 0.6 * n), max(4.2, 1.4 + 0.55 * n)), dpi=110)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    top = matrix.max() if matrix.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8, color="white" if matrix[i, j] > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_curves(history: dict[str, list[float]], path: Path, best_epoch: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=110)
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in history:
            a1.plot(epochs, history[key], style, label=key.replace("_", " "))
    for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
        if key in history:
            a2.plot(epochs, history[key], style, label=key.replace("_", " "))
    for ax, name in ((a1, "loss"), (a2, "accuracy")):
        ax.axvline(best_epoch, color="grey", lw=0.8, ls=":", label=f"kept (epoch {best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    a2.set_ylim(0, 1.02)
    fig.suptitle("learning curves", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


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
    augmenter = _augmenter(flip, seed)
    train_data = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda x, y: (augmenter(x, training=True), y) if augment else (x, y), num_parallel_calls=1, deterministic=True)
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
    _deflate(model_path)
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
    _plot_confusion(cm, ds.classes, confusion_png, f"{name}: {split_name} split, accuracy {test_acc:.3f} (n={len(truth)})")
    _plot_curves(history, curves_png, best_epoch)

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
    card_path.write_text(_card(meta, model_path, split_name), encoding="utf-8")
    return TrainResult(model_path, labels_path, card_path, confusion_png, curves_png, test_acc, val_acc, per_class, cm.tolist(),
                       len(history.get("loss", [])), meta["split"], history)


def _deflate(path: Path) -> None:
    """Re-pack a .keras archive with compression (Keras stores it uncompressed; the HDF5 weights
    shrink to about a quarter). Keras reads either."""
    import zipfile

    tmp = path.with_suffix(".keras.tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    tmp.replace(path)


def _card(meta: dict[str, Any], model_path: Path, split_name: str) -> str:
    rows = "\n".join(f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['support']} |" for c, v in meta["per_class"].items())
    labels = meta["labels"]
    cm_lines = "\n".join(f"    {labels[i]:>12} " + " ".join(f"{n:5d}" for n in row) for i, row in enumerate(meta["confusion"]))
    head = "    " + " " * 13 + " ".join(f"{lab[:5]:>5}" for lab in labels)
    counts = ", ".join(f"{k}: {v}" for k, v in meta["data"]["counts"].items())
    harvest = meta["data"].get("harvest") or {}
    harvest_text = ("\n- Harvest record: `" + json.dumps(harvest, sort_keys=True)[:600] + "`") if harvest else ""
    size_kb = model_path.stat().st_size / 1024
    return f"""# Model card: {meta['name']}

- Created: {meta['created']} (UTC)
- File: `{model_path.name}` ({size_kb:.0f} KB), labels `{model_path.with_suffix('.labels.txt').name}`, loads with `keras-classifier` (`model: path/to/{model_path.name}`)
- Architecture: {meta['architecture']}, {meta['parameters']:,} parameters; input {meta['input']['width']}×{meta['input']['height']}×{meta['input']['channels']} ({meta['input']['pixels']}; scaling is inside the model)
- Crops: padding {meta['crops']['padding']} per side, aspect '{meta['crops']['aspect']}' (the plugin uses these unless told otherwise)

## Data

- Folder: `{meta['data']['folder']}`, classes: {counts}
- Provenance: {meta['data']['provenance'] or 'not stated (pass --provenance)'}{harvest_text}
- Split (seed {meta['seed']}, per class, by {meta['split_by']}): train {meta['split']['train']}, validation {meta['split']['validation']}, test {meta['split']['test']}

## Results

- **{split_name.capitalize()} accuracy: {meta['test_accuracy']:.4f}** (n={sum(v['support'] for v in meta['per_class'].values())}), measured on the saved file as the plugin loads it
- Validation accuracy: {meta['validation_accuracy']:.4f}; epochs run {meta['epochs_run']}, weights kept from epoch {meta['best_epoch']} (early stopping on validation loss)

| class | precision | recall | support |
|---|---|---|---|
{rows}

Confusion matrix ({split_name}; rows true, columns predicted):

{head}
{cm_lines}

## Reproduce

    {meta['command'] or '(trained through the Python API)'}
"""
