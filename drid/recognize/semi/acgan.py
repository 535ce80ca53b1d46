"""AC-GAN augmentation: a class-conditional GAN whose discriminator also classifies (Odena, Olah
and Shlens 2017, "Conditional image synthesis with auxiliary classifier GANs", arXiv 1610.09585),
in Keras, trained on the labelled images and, when there are any, the unlabelled ones.

The generator maps noise and a class to an image; the discriminator has two heads: *source*
(real or generated) and *class*. Its source loss sees every real image (labelled and
unlabelled: that is where unlabelled data helps a GAN), its class loss the labelled real images
and the generated ones with the class they were asked for; the generator is trained to pass as
real and to be classified as its class. After training, :meth:`ACGAN.sample` draws images per
class, keeping those that the discriminator's class head assigns to their class with at least
``keep`` confidence (a check against samples that drifted into another class), and
:func:`sample_grid` writes a PNG grid (a row per class) to look at.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ACGAN", "ACGANConfig", "sample_grid"]


@dataclass(frozen=True)
class ACGANConfig:
    """Training settings. The paper's Adam (2e-4, β1 0.5) and one-sided label smoothing 0.9."""

    steps: int = 2000
    batch_size: int = 64
    latent: int = 64
    learning_rate: float = 2e-4
    smoothing: float = 0.9
    keep: float = 0.9
    width: int = 32

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _build_generator(height: int, width: int, channels: int, n_classes: int, latent: int, base: int) -> Any:
    import keras
    from keras import layers

    h0, w0 = math.ceil(height / 4), math.ceil(width / 4)
    z = keras.Input((latent,), name="noise")
    y = keras.Input((), dtype="int32", name="label")
    code = layers.Flatten()(layers.Embedding(n_classes, latent)(y))
    x = layers.Concatenate()([z, code])
    x = layers.Dense(h0 * w0 * base * 2, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((h0, w0, base * 2))(x)
    x = layers.Conv2DTranspose(base, 4, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2DTranspose(base // 2, 4, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(channels, 3, padding="same", activation="tanh")(x)
    if (4 * h0, 4 * w0) != (height, width):
        x = layers.Cropping2D(((0, 4 * h0 - height), (0, 4 * w0 - width)))(x)
    return keras.Model([z, y], x, name="acgan_generator")


def _build_discriminator(height: int, width: int, channels: int, n_classes: int, base: int) -> Any:
    import keras
    from keras import layers

    inputs = keras.Input((height, width, channels), name="image")
    x = inputs
    for i, f in enumerate((base // 2, base, base * 2)):
        x = layers.Conv2D(f, 3, strides=2 if i < 2 else 1, padding="same")(x)
        # Dropout before the activation: TensorFlow's graph optimiser cannot fuse a bias add with
        # LeakyReLU under a tape (it logs a 'remapper failed' error line on every run otherwise).
        x = layers.Dropout(0.3)(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    source = layers.Dense(1, activation="sigmoid", name="source")(x)
    classes = layers.Dense(n_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, [source, classes], name="acgan_discriminator")


@dataclass
class ACGAN:
    """A trained AC-GAN: generator, discriminator and what it was trained on."""

    generator: Any
    discriminator: Any
    n_classes: int
    config: ACGANConfig
    history: dict[str, list[float]] = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def train(cls, x_labelled: np.ndarray, y_labelled: np.ndarray, n_classes: int, x_unlabelled: np.ndarray | None = None,
              config: ACGANConfig = ACGANConfig(), *, seed: int = 0, progress: bool = False) -> ACGAN:
        """Train on ``N×H×W×C`` 0..255 images (see the module docstring)."""
        import keras
        import tensorflow as tf
        from tqdm import tqdm

        if len(x_labelled) == 0:
            raise ValueError("an AC-GAN needs labelled images")
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        _, height, width, channels = x_labelled.shape
        gen = _build_generator(height, width, channels, n_classes, config.latent, config.width)
        disc = _build_discriminator(height, width, channels, n_classes, config.width)
        opt_g = keras.optimizers.Adam(config.learning_rate, beta_1=0.5)
        opt_d = keras.optimizers.Adam(config.learning_rate, beta_1=0.5)
        opt_g.build(gen.trainable_variables)
        opt_d.build(disc.trainable_variables)
        bce = keras.losses.BinaryCrossentropy()
        scale = lambda x: x / 127.5 - 1.0  # noqa: E731
        real_all = x_labelled if x_unlabelled is None or len(x_unlabelled) == 0 else np.concatenate([x_labelled, x_unlabelled])
        real_all = scale(real_all.astype(np.float32))
        lab = scale(x_labelled.astype(np.float32))
        ylab = y_labelled.astype(np.int32)
        b = config.batch_size
        nl = min(b // 2, max(len(lab), 1))

        @tf.function(autograph=False)
        def step(x_real: Any, x_lab: Any, y_lab: Any) -> Any:
            z = tf.random.normal((b, config.latent))
            y_fake = tf.random.uniform((b,), 0, n_classes, dtype=tf.int32)
            with tf.GradientTape() as tape_d:
                fake = gen([z, y_fake], training=True)
                s_real, _ = disc(x_real, training=True)
                _, c_lab = disc(x_lab, training=True)
                s_fake, c_fake = disc(fake, training=True)
                loss_src = bce(tf.fill(tf.shape(s_real), config.smoothing), s_real) + bce(tf.zeros_like(s_fake), s_fake)
                loss_cls = (tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y_lab, c_lab))
                            + tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y_fake, c_fake)))
                loss_d = loss_src + loss_cls
            grads = tape_d.gradient(loss_d, disc.trainable_variables)
            opt_d.apply_gradients(zip(grads, disc.trainable_variables))
            z = tf.random.normal((b, config.latent))
            y_fake = tf.random.uniform((b,), 0, n_classes, dtype=tf.int32)
            with tf.GradientTape() as tape_g:
                fake = gen([z, y_fake], training=True)
                s_fake, c_fake = disc(fake, training=True)
                loss_g = bce(tf.ones_like(s_fake), s_fake) + tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y_fake, c_fake))
            grads = tape_g.gradient(loss_g, gen.trainable_variables)
            opt_g.apply_gradients(zip(grads, gen.trainable_variables))
            return loss_d, loss_g, loss_cls

        history: dict[str, list[float]] = {"step": [], "loss_discriminator": [], "loss_generator": [], "loss_class": []}
        running: list[list[float]] = []
        every = max(config.steps // 20, 1)
        bar = tqdm(total=config.steps, unit="step", desc="AC-GAN", file=sys.stderr, disable=not progress, dynamic_ncols=True, mininterval=1.0)
        for k in range(1, config.steps + 1):
            i = rng.integers(0, len(real_all), b)
            j = rng.integers(0, len(lab), nl)
            running.append([float(v) for v in step(tf.constant(real_all[i]), tf.constant(lab[j]), tf.constant(ylab[j]))])
            if k % every == 0 or k == config.steps:
                means = np.mean(running, axis=0)
                running = []
                history["step"].append(float(k))
                for key, v in zip(("loss_discriminator", "loss_generator", "loss_class"), means):
                    history[key].append(float(v))
                bar.set_postfix({"d": f"{means[0]:.3f}", "g": f"{means[1]:.3f}"})
            bar.update(1)
        bar.close()
        return cls(gen, disc, n_classes, config, history, seed)

    def generate(self, labels: np.ndarray, seed: int | None = None) -> np.ndarray:
        """One generated image per label, as 0..255 float32 pixels."""
        rng = np.random.default_rng(self.seed + 1 if seed is None else seed)
        z = rng.standard_normal((len(labels), self.config.latent)).astype(np.float32)
        out = [np.asarray(self.generator([z[k:k + 256], labels[k:k + 256].astype(np.int32)], training=False))
               for k in range(0, len(labels), 256)]
        return np.clip((np.concatenate(out) + 1.0) * 127.5, 0.0, 255.0).astype(np.float32)

    def class_confidence(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The discriminator's class-head probability of ``labels`` for 0..255 ``images``."""
        probs = np.concatenate([np.asarray(self.discriminator(images[k:k + 256] / 127.5 - 1.0, training=False)[1])
                                for k in range(0, len(images), 256)])
        return probs[np.arange(len(labels)), labels]

    def sample(self, per_class: int, seed: int | None = None, max_tries: int = 4) -> tuple[np.ndarray, np.ndarray, float]:
        """``per_class`` generated images of every class that pass the class-head check (fewer
        when not enough pass in ``max_tries`` rounds), their labels, and the share that passed."""
        rng_seed = self.seed + 1 if seed is None else seed
        kept_x: list[np.ndarray] = []
        kept_y: list[np.ndarray] = []
        drawn = passed = 0
        for k in range(self.n_classes):
            have = 0
            for t in range(max_tries):
                want = per_class - have
                if want <= 0:
                    break
                y = np.full(want * 2, k, np.int64)
                x = self.generate(y, seed=rng_seed + 1000 * k + t)
                ok = self.class_confidence(x, y) >= self.config.keep
                drawn += len(y)
                passed += int(ok.sum())
                x, y = x[ok][:want], y[ok][:want]
                kept_x.append(x)
                kept_y.append(y)
                have += len(y)
        shape = (0, *self.generator.output_shape[1:])
        xs = np.concatenate(kept_x) if kept_x else np.zeros(shape, np.float32)
        ys = np.concatenate(kept_y) if kept_y else np.zeros(0, np.int64)
        return xs, ys, passed / max(drawn, 1)


def sample_grid(gan: ACGAN, classes: list[str], path: Path, per_class: int = 10, seed: int = 0, tile: int = 48) -> Path:
    """A PNG with a row of ``per_class`` generated samples per class (label at the left), each
    enlarged to about ``tile`` pixels."""
    import cv2

    labels = np.repeat(np.arange(gan.n_classes), per_class)
    images = gan.generate(labels, seed=seed).astype(np.uint8)
    h, w = images.shape[1:3]
    zoom = max(1, tile // max(h, w))
    th, tw = h * zoom, w * zoom
    left = 12 + 9 * max(len(c) for c in classes) if classes else 12
    left = min(left, 160)
    pad = 4
    canvas = np.full((gan.n_classes * (th + pad) + pad, left + per_class * (tw + pad) + pad, 3), 255, np.uint8)
    for k in range(gan.n_classes):
        y0 = pad + k * (th + pad)
        cv2.putText(canvas, classes[k][:16], (6, y0 + th // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for j in range(per_class):
            img = images[k * per_class + j]
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.shape[-1] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
            big = cv2.resize(img, (tw, th), interpolation=cv2.INTER_NEAREST)
            x0 = left + pad + j * (tw + pad)
            canvas[y0:y0 + th, x0:x0 + tw] = big
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), canvas):
        raise OSError(f"cannot write '{path}'")
    return path
