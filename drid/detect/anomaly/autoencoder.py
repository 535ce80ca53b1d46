"""The convolutional autoencoder with an SSIM loss (Bergmann et al., "Improving Unsupervised
Defect Segmentation by Applying Structural Similarity to Autoencoders", 2018): trained to
reconstruct normal images; where the reconstruction's local structure departs from the input's
(1 − SSIM, 11×11 Gaussian window) lies the anomaly.

The network is fully convolutional (any input whose sides are multiples of 16) with a narrow
spatial bottleneck (1/16 of the side, :data:`LATENT` channels) so it cannot copy its input.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

__all__ = ["LATENT", "build_autoencoder", "ssim_map", "train_autoencoder"]

#: Channels of the bottleneck (at 1/16 of the input side): 8×8×16 numbers for a 128-pixel image.
LATENT = 16
#: The SSIM window (Gaussian, σ 1.5, 11 taps), as in Wang et al. and Bergmann et al.
_SIGMA = 1.5
_C1, _C2 = 0.01 ** 2, 0.03 ** 2


def build_autoencoder(channels: int = 1, latent: int = LATENT, seed: int = 0) -> Any:
    """Encoder of strided 4×4 convolutions (32, 32, 64, 128 filters) with 3×3 ones between,
    a 1×1 bottleneck, and the mirror image as decoder; LeakyReLU(0.2), sigmoid output. Input 0..255."""
    import keras
    from keras import layers

    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((None, None, channels), name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    for i, f in enumerate((32, 32, 64, 128)):
        x = layers.Conv2D(f, 4, strides=2, padding="same", kernel_initializer=init, name=f"enc{i + 1}")(x)
        x = layers.LeakyReLU(0.2, name=f"enc{i + 1}_act")(x)
        x = layers.Conv2D(f, 3, padding="same", kernel_initializer=init, name=f"enc{i + 1}b")(x)
        x = layers.LeakyReLU(0.2, name=f"enc{i + 1}b_act")(x)
    x = layers.Conv2D(latent, 1, kernel_initializer=init, name="latent")(x)
    for i, f in enumerate((128, 64, 32, 32)):
        x = layers.Conv2DTranspose(f, 4, strides=2, padding="same", kernel_initializer=init, name=f"dec{i + 1}")(x)
        x = layers.LeakyReLU(0.2, name=f"dec{i + 1}_act")(x)
        x = layers.Conv2D(f, 3, padding="same", kernel_initializer=init, name=f"dec{i + 1}b")(x)
        x = layers.LeakyReLU(0.2, name=f"dec{i + 1}b_act")(x)
    outputs = layers.Conv2D(channels, 3, padding="same", activation="sigmoid", kernel_initializer=init, name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="ssim_autoencoder")


def _ssim_loss(y_true: Any, y_pred: Any) -> Any:
    import tensorflow as tf

    return 1.0 - tf.reduce_mean(tf.image.ssim(y_true, y_pred, max_val=1.0, filter_size=11, filter_sigma=_SIGMA))


def train_autoencoder(images: np.ndarray, *, epochs: int = 40, batch_size: int = 16, learning_rate: float = 2e-3, seed: int = 0,
                      verbose: int = 0) -> tuple[Any, list[float]]:
    """Train on normal images ``N×H×W×C`` (``uint8``, sides multiples of 16) with horizontal and
    vertical flips; returns the model and its loss per epoch."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = build_autoencoder(images.shape[-1], seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=_ssim_loss)
    x = images.astype(np.float32)

    def augment(img: Any) -> tuple[Any, Any]:
        img = tf.image.random_flip_left_right(img)
        img = tf.image.random_flip_up_down(img)
        return img, img / 255.0

    data = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed).map(augment).batch(batch_size)
    history = model.fit(data, epochs=epochs, verbose=verbose, shuffle=False)  # the dataset shuffles itself
    return model, [float(v) for v in history.history["loss"]]


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two images in [0, 1] (``H×W`` or ``H×W×C``, averaged over channels)."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), _SIGMA, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + _C1) * (2 * cov + _C2)) / ((mu_a ** 2 + mu_b ** 2 + _C1) * (var_a + var_b + _C2))
    return s.mean(axis=-1) if s.ndim == 3 else s
