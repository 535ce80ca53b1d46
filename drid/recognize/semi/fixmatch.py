"""Pseudo-label self-training with consistency: the FixMatch recipe (Sohn et al. 2020,
arXiv 2001.07685) for drid's classifiers.

Every step takes a batch of labelled images and ``unlabelled_ratio`` times as many unlabelled
ones. The labelled ones, weakly augmented, give the usual cross-entropy. Each unlabelled image is
seen twice: weakly augmented, its prediction (no gradient) becomes a hard *pseudo-label* when its
confidence reaches ``threshold``; strongly augmented, the model is trained to predict that label.
Images below the threshold add nothing, so the unlabelled loss grows as the model grows sure.
The three views go through the network as one batch (batch-norm statistics over all of them, as
in the paper), and the kept weights are an exponential moving average of the trained ones.

The same loop with no unlabelled data is the supervised baseline: same network, steps,
optimiser and weak augmentation, so a comparison measures the unlabelled data and nothing else.
Optional *synthetic* labelled images (an AC-GAN's samples, :mod:`drid.recognize.semi.acgan`)
fill a share of every labelled batch.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from drid.recognize.semi.augment import strong_augment, weak_augment

__all__ = ["FixMatchConfig", "fit_fixmatch"]


@dataclass(frozen=True)
class FixMatchConfig:
    """The recipe's settings. Defaults: the paper's threshold 0.95 and unlabelled loss weight 1;
    ``unlabelled_ratio`` 4 instead of the paper's 7 and 3,000 steps instead of 2^20 so that it
    trains on a CPU in minutes (measured on scikit-learn's digits: benchmarks/semisupervised.py)."""

    steps: int = 3000
    supervised_steps: int = 500
    batch_size: int = 32
    unlabelled_ratio: int = 4
    threshold: float = 0.95
    unlabelled_weight: float = 1.0
    learning_rate: float = 3e-3
    weight_decay: float = 5e-4
    ema: float = 0.99
    synthetic_share: float = 0.5
    flip: bool = False
    evaluate_every: int = 100

    def __post_init__(self) -> None:
        checks = [(self.steps >= 1, "steps must be at least 1"), (0 <= self.supervised_steps <= self.steps, "supervised_steps must be in [0, steps]"),
                  (self.batch_size >= 1, "batch_size must be at least 1"), (self.unlabelled_ratio >= 1, "unlabelled_ratio must be at least 1"),
                  (0.0 < self.threshold <= 1.0, "threshold must be in (0, 1]"), (self.unlabelled_weight >= 0, "unlabelled_weight must be ≥ 0"),
                  (self.learning_rate > 0, "learning_rate must be > 0"), (0.0 <= self.ema < 1.0, "ema must be in [0, 1)"),
                  (0.0 <= self.synthetic_share < 1.0, "synthetic_share must be in [0, 1)"), (self.evaluate_every >= 1, "evaluate_every must be at least 1")]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"FixMatchConfig: {message}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weights_copy(model: Any) -> list[np.ndarray]:
    return [np.array(v) for v in model.get_weights()]


def fit_fixmatch(
    model: Any,
    x_labelled: np.ndarray,
    y_labelled: np.ndarray,
    x_unlabelled: np.ndarray | None,
    config: FixMatchConfig = FixMatchConfig(),
    *,
    seed: int = 0,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    x_synthetic: np.ndarray | None = None,
    y_synthetic: np.ndarray | None = None,
    class_weight: np.ndarray | None = None,
    y_unlabelled_truth: np.ndarray | None = None,
    progress: bool = False,
) -> dict[str, list[float]]:
    """Train ``model`` (a Keras classifier with softmax output taking 0..255 pixels) in place and
    leave the moving-average weights in it. The first ``supervised_steps`` use the labelled
    (and synthetic) images only (the *supervised start*), the rest add the unlabelled loss; with
    ``x_unlabelled`` None every step is supervised.

    Returns the history, one entry every ``evaluate_every`` steps: ``step``, ``loss``,
    ``loss_labelled``, ``loss_unlabelled``, ``mask`` (share of unlabelled images above the
    threshold), ``accuracy`` (labelled batch) and, with validation data, ``val_loss`` and
    ``val_accuracy`` of the averaged weights, with ``start_val_loss``/``start_val_accuracy`` (one
    value each) of the supervised start just before the unlabelled loss is switched on.
    ``y_unlabelled_truth`` (benchmarks only) gives
    ``pseudo_accuracy``: how often a kept pseudo-label was right (NaN without it or before the
    first unlabelled step). ``mask``, ``loss_unlabelled`` and ``pseudo_accuracy`` average over the
    interval's unlabelled steps only."""
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    if len(x_labelled) == 0:
        raise ValueError("FixMatch needs at least one labelled image")
    n_classes = int(model.output_shape[-1])
    rng = np.random.default_rng(seed)
    tf.random.set_seed(seed)
    semi = x_unlabelled is not None and len(x_unlabelled) > 0 and config.unlabelled_weight > 0
    synthetic = x_synthetic is not None and len(x_synthetic) > 0
    n_syn = int(round(config.batch_size * config.synthetic_share)) if synthetic else 0
    n_real = config.batch_size - n_syn
    mu_batch = config.batch_size * config.unlabelled_ratio
    weights_c = tf.constant(class_weight if class_weight is not None else np.ones(n_classes), tf.float32)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.steps, alpha=0.05)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
    optimizer.build(model.trainable_variables)
    ema_vars = [tf.Variable(v, trainable=False) for v in model.weights]
    step_var = tf.Variable(0, dtype=tf.int64, trainable=False)

    def update_ema() -> None:
        t = tf.cast(step_var, tf.float32)
        decay = tf.minimum(config.ema, (1.0 + t) / (10.0 + t))
        for e, v in zip(ema_vars, model.weights):
            e.assign(decay * e + (1.0 - decay) * v)

    def labelled_loss(probs: Any, y: Any) -> Any:
        ce = keras.losses.sparse_categorical_crossentropy(y, probs)
        w = tf.gather(weights_c, y)
        return tf.reduce_sum(ce * w) / tf.reduce_sum(w)

    @tf.function(reduce_retracing=True, autograph=False)
    def supervised_step(xl: Any, yl: Any) -> Any:
        with tf.GradientTape() as tape:
            probs = model(weak_augment(xl, config.flip), training=True)
            loss = labelled_loss(probs, yl)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        step_var.assign_add(1)
        update_ema()
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(probs, 1), yl), tf.float32))
        nan = tf.constant(float("nan"))
        return loss, loss, nan, nan, acc, nan

    @tf.function(reduce_retracing=True, autograph=False)
    def semi_step(xl: Any, yl: Any, xu: Any, yu_truth: Any) -> Any:
        nl = tf.shape(xl)[0]
        nu = tf.shape(xu)[0]
        views = tf.concat([weak_augment(xl, config.flip), weak_augment(xu, config.flip), strong_augment(xu, config.flip)], 0)
        with tf.GradientTape() as tape:
            probs = model(views, training=True)
            p_l, p_weak, p_strong = probs[:nl], probs[nl:nl + nu], probs[nl + nu:]
            loss_x = labelled_loss(p_l, yl)
            p_weak = tf.stop_gradient(p_weak)
            confidence = tf.reduce_max(p_weak, 1)
            pseudo = tf.argmax(p_weak, 1)
            mask = tf.cast(confidence >= config.threshold, tf.float32)
            loss_u = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(pseudo, p_strong) * mask)
            loss = loss_x + config.unlabelled_weight * loss_u
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        step_var.assign_add(1)
        update_ema()
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(p_l, 1), yl), tf.float32))
        right = tf.cast(tf.equal(pseudo, yu_truth), tf.float32)
        pseudo_acc = tf.math.divide_no_nan(tf.reduce_sum(right * mask), tf.reduce_sum(mask))
        return loss, loss_x, loss_u, tf.reduce_mean(mask), acc, tf.where(yu_truth[0] < 0, float("nan"), pseudo_acc)

    def labelled_batch() -> tuple[np.ndarray, np.ndarray]:
        i = rng.integers(0, len(x_labelled), n_real)
        if not n_syn:
            return x_labelled[i], y_labelled[i]
        assert x_synthetic is not None and y_synthetic is not None
        j = rng.integers(0, len(x_synthetic), n_syn)
        return np.concatenate([x_labelled[i], x_synthetic[j]]), np.concatenate([y_labelled[i], y_synthetic[j]])

    def evaluate() -> tuple[float, float]:
        assert x_val is not None and y_val is not None
        probs = np.concatenate([np.asarray(model(x_val[k:k + 256], training=False)) for k in range(0, len(x_val), 256)])
        loss = float(np.mean(-np.log(np.clip(probs[np.arange(len(y_val)), y_val], 1e-7, 1.0))))
        return loss, float((probs.argmax(1) == y_val).mean())

    keys = ("loss", "loss_labelled", "loss_unlabelled", "mask", "accuracy", "pseudo_accuracy")
    history: dict[str, list[float]] = {k: [] for k in ("step", *keys)}
    if x_val is not None:
        history.update(val_loss=[], val_accuracy=[])
    running: list[list[float]] = []
    x_labelled = x_labelled.astype(np.float32)
    y_labelled = y_labelled.astype(np.int64)
    xu_all = x_unlabelled.astype(np.float32) if semi and x_unlabelled is not None else None
    truth = y_unlabelled_truth.astype(np.int64) if y_unlabelled_truth is not None else None
    bar = tqdm(total=config.steps, unit="step", desc="training", file=sys.stderr, disable=not progress, dynamic_ncols=True, mininterval=1.0)
    for step in range(1, config.steps + 1):
        xl, yl = labelled_batch()
        if xu_all is not None and step > config.supervised_steps:
            j = rng.integers(0, len(xu_all), mu_batch)
            yu = truth[j] if truth is not None else np.full(mu_batch, -1, np.int64)
            out = semi_step(tf.constant(xl), tf.constant(yl), tf.constant(xu_all[j]), tf.constant(yu))
        else:
            out = supervised_step(tf.constant(xl), tf.constant(yl))
        running.append([float(v) for v in out])
        if step % config.evaluate_every == 0 or step == config.steps:
            # The unlabelled terms are averaged over the steps that had them (NaN on supervised
            # steps): an interval spanning the supervised start would understate them otherwise.
            table = np.asarray(running, dtype=np.float64)
            seen = ~np.isnan(table)
            means = np.where(seen.any(0), np.nansum(table, 0) / np.maximum(seen.sum(0), 1), np.nan)
            means[2:4] = np.nan_to_num(means[2:4], nan=0.0)  # no unlabelled step yet: nothing kept, no loss
            history["step"].append(float(step))
            for k, v in zip(keys, means):
                history[k].append(float(v))
            running = []
            if x_val is not None:
                trained = _weights_copy(model)
                model.set_weights([e.numpy() for e in ema_vars])
                val_loss, val_acc = evaluate()
                model.set_weights(trained)
                history["val_loss"].append(val_loss)
                history["val_accuracy"].append(val_acc)
            bar.set_postfix({"loss": f"{means[0]:.3f}", "mask": f"{means[3]:.2f}", **({"val_acc": f"{history['val_accuracy'][-1]:.3f}"} if x_val is not None else {})})
        if step == config.supervised_steps and semi and x_val is not None:
            trained = _weights_copy(model)
            model.set_weights([e.numpy() for e in ema_vars])
            start_loss, start_acc = evaluate()
            model.set_weights(trained)
            history["start_val_loss"] = [start_loss]
            history["start_val_accuracy"] = [start_acc]
        bar.update(1)
    bar.close()
    model.set_weights([e.numpy() for e in ema_vars])
    return history
