"""Train drid's detector (``drid train detector``): samples in, a model bundle out.

The samples are split by ``split.grouped_split`` (neighbouring frames stay on one side);
training runs on augmented batches with the CenterNet loss (penalty-reduced focal loss on the
heat-maps, L1 on offsets and log sizes) and stops early on the validation loss, keeping the
best weights. The held-out split is then scored through the saved file, as the ``detector``
plugin loads it: COCO-style AP@0.5 and AP@[.5:.95] per class. Written together under ``out``:
``NAME.keras``, ``NAME.json`` (labels, input size, metrics, data), ``NAME.labels.txt``,
``NAME.card.md``, ``NAME.curves.png`` and, with ``tflite=True``, ``NAME.tflite``."""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drid.detect.learned.data import Augment, Sample, batch_arrays, render, training_batches
from drid.detect.learned.encoding import decode
from drid.detect.learned.model import ARCHITECTURE, STRIDE, build_centernet
from drid.detect.learned.split import grouped_split
from drid.recognize.report import plot_curves

__all__ = ["Scorer", "TrainedDetector", "centernet_loss", "predict_samples", "train_detector"]


@dataclass
class TrainedDetector:
    """What a training run wrote and measured."""

    model_path: Path
    card_path: Path
    curves_png: Path
    tflite_path: Path | None
    classes: list[str]
    ap50: dict[str, float]
    ap: dict[str, float]
    history: dict[str, list[float]]
    split: dict[str, int]
    epochs: int
    best_epoch: int
    meta: dict[str, Any] = field(default_factory=dict)


def centernet_loss(n_classes: int, size_weight: float = 1.0, offset_weight: float = 1.0) -> Callable[[Any, Any], Any]:
    """The CenterNet loss for targets of ``data.batch_arrays`` (heat, 4 box channels, centre mask,
    ignore mask) and the model's heads. Cells under an ignored box are not taught as background."""
    from keras import ops

    c = n_classes

    def loss(y_true: Any, y_pred: Any) -> Any:
        heat_t = y_true[..., :c]
        reg_t = y_true[..., c:c + 4]
        centre = y_true[..., c + 4]
        ignored = y_true[..., c + 5:c + 6]
        p = ops.clip(y_pred[..., :c], 1e-4, 1 - 1e-4)
        pos = ops.cast(heat_t >= 1.0 - 1e-6, "float32")
        neg = (1.0 - pos) * (1.0 - ignored)
        pos_loss = pos * ops.square(1.0 - p) * ops.log(p)
        neg_loss = neg * ops.power(1.0 - heat_t, 4.0) * ops.square(p) * ops.log(1.0 - p)
        n_pos = ops.maximum(ops.sum(pos), 1.0)
        focal = -(ops.sum(pos_loss) + ops.sum(neg_loss)) / n_pos
        diff = ops.abs(y_pred[..., c:c + 4] - reg_t) * centre[..., None]
        n_centre = ops.maximum(ops.sum(centre), 1.0)
        box = (offset_weight * ops.sum(diff[..., :2]) + size_weight * ops.sum(diff[..., 2:])) / n_centre
        return focal + box

    return loss


def predict_samples(heads_of: Callable[[np.ndarray], np.ndarray], samples: Sequence[Sample], n_classes: int, input_size: tuple[int, int], *,
                    min_score: float = 0.05, nms_iou: float = 0.5, batch_size: int = 16) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per sample: boxes (in the sample's pixels), scores and class ids after class-aware NMS."""
    from drid.detect.boxes import nms

    out = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        canvases = np.stack([render(s, input_size)[0] for s in chunk])
        for s, heads in zip(chunk, heads_of(canvases)):
            boxes, scores, cls = decode(heads, n_classes, min_score=min_score)
            keep = []
            for k in np.unique(cls):
                idx = np.where(cls == k)[0]
                keep += [int(idx[i]) for i in nms(boxes[idx], scores[idx], nms_iou)]
            keep.sort(key=lambda i: -scores[i])
            h, w = s.image.shape[:2]
            dx, dy = (input_size[0] - w) // 2, (input_size[1] - h) // 2  # render centres the fitted picture
            b = boxes[keep] - np.array([dx, dy, dx, dy], np.float32)
            out.append((b.reshape(-1, 4), scores[keep], cls[keep]))
    return out


#: Scores predictions on samples: ``(predictions, samples, classes) -> {class: result}``, each
#: result with ``ap50``, ``ap`` (AP@[.5:.95]) and ``n_truth`` (``drid.eval.samples.score_samples``;
#: passed in because the eval layer sits above the detect layer).
Scorer = Callable[[Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], Sequence[Sample], Sequence[str]], dict[str, Any]]


def _epoch_bar(total: int, enabled: bool, evaluate: Callable[[], dict[str, float]] | None) -> Any:
    import keras
    from tqdm import tqdm

    class Callback(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            self.bar = tqdm(total=total, unit="epoch", desc="training", file=sys.stderr, disable=not enabled, dynamic_ncols=True)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is not None and evaluate is not None:
                logs.update(evaluate())
            shown = {k: f"{v:.3f}" for k, v in (logs or {}).items() if k in ("loss", "val_loss", "val_ap50")}
            self.bar.set_postfix(shown)
            self.bar.update(1)

        def on_train_end(self, logs: Any = None) -> None:
            self.bar.close()

    return Callback()


def train_detector(
    samples: Sequence[Sample],
    classes: Sequence[str],
    out: str | Path,
    *,
    name: str = "detector",
    input_size: tuple[int, int] = (320, 192),
    width: float = 1.0,
    epochs: int = 60,
    patience: int = 8,
    batch_size: int = 16,
    learning_rate: float = 2e-3,
    val_fraction: float = 0.2,
    block: int = 50,
    gap: int = 10,
    augment: Augment | None = None,
    score: Scorer | None = None,
    val_samples: Sequence[Sample] | None = None,
    test_samples: Sequence[Sample] | None = None,
    steps_per_epoch: int | None = None,
    seed: int = 0,
    tflite: bool = True,
    sources: Sequence[dict[str, str]] = (),
    limitations: str = "",
    command: str = "",
    progress: bool = True,
    time_budget_s: float | None = None,
) -> TrainedDetector:
    """Train on ``samples`` (split by time unless ``val_samples`` is given; early stopping
    watches the validation part), score the held-out part — ``test_samples`` when given (used
    once, at the end: frames held out by time), else the validation part — with ``score`` (AP per class; without it, only the losses are reported) and write the
    bundle; see the module docstring. ``sources`` (``{"name", "licence",
    "use"}`` each) and ``limitations`` go into the model card."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    classes = list(classes)
    if not classes:
        raise ValueError("no classes to learn")
    if not samples:
        raise ValueError("no training samples")
    started = time.perf_counter()
    samples = list(samples)
    if val_samples is None:
        train_idx, val_idx = grouped_split(samples, val_fraction, block=block, gap=gap, seed=seed)
        train = [samples[i] for i in train_idx]
        val = [samples[i] for i in val_idx]
    else:
        train, val = samples, list(val_samples)
    if not train:
        raise ValueError(f"the split left no training samples (of {len(samples)}); lower the validation fraction")
    if not val:
        val = train  # tiny data sets: early stopping watches the training data (said in the card)
    keras.utils.set_random_seed(seed)
    n_classes = len(classes)
    model = build_centernet(input_size, n_classes, width)
    batches = training_batches(train, n_classes, input_size, STRIDE, batch_size, seed, augment, steps_per_epoch)
    x_val, y_val = batch_arrays(val, n_classes, input_size, STRIDE)

    def heads_of(x: np.ndarray) -> np.ndarray:
        return np.asarray(model(x.astype(np.float32), training=False))

    def val_ap() -> dict[str, float]:
        assert score is not None
        res = score(predict_samples(heads_of, val, n_classes, input_size), val, classes)
        return {"val_ap50": float(np.mean([r.ap50 for r in res.values()]))}

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=centernet_loss(n_classes))
    # With a scorer, early stopping watches validation AP@0.5: the focal loss flattens while AP still
    # climbs (seen on the bundled model's curves), so the loss stops runs that are still improving.
    stop_on = ("val_ap50", "max") if score is not None else ("val_loss", "min")
    callbacks = [
        _epoch_bar(epochs, progress, val_ap if score is not None else None),  # first: it adds val_ap50 to the logs
        keras.callbacks.EarlyStopping(monitor=stop_on[0], mode=stop_on[1], patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(2, patience // 2), min_lr=learning_rate / 50),
    ]
    if time_budget_s is not None:
        callbacks.append(_TimeBudget(time_budget_s, started))
    h = model.fit(batches, validation_data=(x_val, y_val), epochs=epochs, verbose=0, callbacks=callbacks)
    history = {k: [float(v) for v in vs] for k, vs in h.history.items() if k != "learning_rate"}
    best_epoch = int(np.argmax(history["val_ap50"]) if stop_on[0] == "val_ap50" else np.argmin(history["val_loss"])) + 1

    target = Path(out).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    model_path = target / f"{name}.keras"
    bare = build_centernet(input_size, n_classes, width)  # uncompiled: the file carries no loss function or optimizer state
    bare.set_weights(model.get_weights())
    bare.save(model_path)
    from drid.recognize.bundle import deflate

    deflate(model_path)
    (target / f"{name}.labels.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    meta: dict[str, Any] = {
        "name": name,
        "architecture": ARCHITECTURE,
        "labels": classes,
        "input": {"width": input_size[0], "height": input_size[1], "pixels": "0..255 RGB, letterboxed (centred, grey 114)"},
        "stride": STRIDE,
        "width_multiplier": width,
    }
    meta_path = target / f"{name}.json"
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")

    # the held-out split, through the saved file as the detector plugin loads it
    from drid.detect.learned.backend import KerasCenterNet

    saved = KerasCenterNet(model_path)
    held_out = list(test_samples) if test_samples else val
    results = score(predict_samples(saved.heads, held_out, n_classes, input_size), held_out, classes) if score is not None else {}
    tflite_path = None
    if tflite:
        from drid.detect.learned.export import export_tflite

        tflite_path = export_tflite(model_path)
    curves = target / f"{name}.curves.png"
    plot_curves(history, curves, best_epoch, f"{name}: learning curves ({len(train)} training, {len(val)} validation pictures)",
                metrics=(("val_ap50", "-", "validation AP@0.5"),), metric_name="AP@0.5 (all classes)", log_loss=True)
    split = {"train": len(train), "validation": len(val) if val is not train else 0, "left out (gap)": len(samples) - len(train) - (len(val) if val is not train else 0)} \
        if val_samples is None else {"train": len(train), "validation": len(val), "left out (gap)": 0}
    if test_samples:
        split["held-out test"] = len(held_out)
    meta.update({
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "parameters": int(model.count_params()),
        "seed": seed,
        "split_by": f"blocks of {block} frames per video, {gap}-frame gap to validation" if val_samples is None else "given validation set",
        "split": split,
        "objects": {"train": _count(train, classes), "validation": _count(val, classes)} | ({"held-out test": _count(held_out, classes)} if test_samples else {}),
        "scored_on": "held-out test" if test_samples else "validation",
        "epochs_run": len(history["loss"]),
        "best_epoch": best_epoch,
        "early_stopping": "validation AP@0.5" if stop_on[0] == "val_ap50" else "validation loss",
        "validation": {k: {"ap50": r.ap50, "ap": r.ap, "objects": r.n_truth} for k, r in results.items()},
        "augment": (augment or Augment()).__dict__ | {"scale": list((augment or Augment()).scale)},
        "sources": list(sources),
        "limitations": limitations,
        "train_seconds": round(time.perf_counter() - started, 1),
        "command": command,
    })
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    card = target / f"{name}.card.md"
    card.write_text(model_card(meta, model_path, tflite_path), encoding="utf-8")
    return TrainedDetector(model_path, card, curves, tflite_path, classes, {k: r.ap50 for k, r in results.items()}, {k: r.ap for k, r in results.items()},
                           history, split, len(history["loss"]), best_epoch, meta)


class _TimeBudget:
    def __new__(cls, seconds: float, started: float) -> Any:
        import keras

        class Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                if time.perf_counter() - started > seconds:
                    self.model.stop_training = True

        return Callback()


def _count(samples: Sequence[Sample], classes: Sequence[str]) -> dict[str, int]:
    counts = {c: 0 for c in classes}
    for s in samples:
        for k, ig in zip(s.classes, s.ignore):
            if not ig:
                counts[classes[int(k)]] += 1
    return counts


def model_card(meta: dict[str, Any], model_path: Path, tflite_path: Path | None) -> str:
    """The model card of a trained detector (Markdown)."""
    rows = "\n".join(f"| {k} | {v['ap50']:.3f} | {v['ap']:.3f} | {v['objects']} |" for k, v in meta["validation"].items()) or "| (not scored) | | | |"
    sources = "\n".join(f"- {s.get('name', '?')} — licence: {s.get('licence', 'not stated')}; {s.get('use', '')}" for s in meta["sources"]) or "- not stated"
    objects = "; ".join(f"{part}: " + ", ".join(f"{k} {n}" for k, n in counts.items()) for part, counts in meta["objects"].items())
    tfl = f", TFLite export `{tflite_path.name}` ({tflite_path.stat().st_size / 1024:.0f} KB, loads with `detector` `format: tflite`)" if tflite_path else ""
    split = ", ".join(f"{k} {v}" for k, v in meta["split"].items())
    return f"""# Model card: {meta['name']}

- Created: {meta['created']} (UTC) by `drid train detector`
- File: `{model_path.name}` ({model_path.stat().st_size / 1024:.0f} KB){tfl}; loads with the `detector` plugin (`model: path/to/{model_path.name}`)
- Architecture: {meta['architecture']} — CenterNet heads (stride {meta['stride']}) on a depthwise-separable backbone with a two-level
  feature pyramid, width ×{meta['width_multiplier']}, {meta['parameters']:,} parameters
- Input: {meta['input']['width']}×{meta['input']['height']}, {meta['input']['pixels']}; labels: {', '.join(meta['labels'])}

## Data

{sources}

- Split (seed {meta['seed']}, by {meta['split_by']}): {split}
- Objects — {objects}
- Augmentation: {', '.join(f'{k} {v}' for k, v in meta['augment'].items())}

## Results ({meta['scored_on']} split, through the saved file)

| class | AP@0.5 | AP@[.5:.95] | objects |
|---|---|---|---|
{rows}

Epochs run {meta['epochs_run']}, weights kept from epoch {meta['best_epoch']} (early stopping on {meta['early_stopping']}); {meta['train_seconds']} s.

## Limitations

{meta['limitations'] or 'Not stated. A detector trained on a few cameras generalises poorly to others: evaluate it on your footage (`drid eval detector`) before relying on it.'}

## Reproduce

    {meta['command'] or '(trained through the Python API)'}
"""
