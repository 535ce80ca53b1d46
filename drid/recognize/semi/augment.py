"""The two augmentations of the FixMatch recipe, as TensorFlow functions over a batch of
``N×H×W×C`` float pixels in 0..255 (what drid's classifiers take).

*Weak*: a random shift of up to 1/8 of the size (and a mirror image with ``flip``), the view whose
prediction becomes the pseudo-label. *Strong*: a random affine warp (rotation, shear, zoom,
shift), random contrast, brightness, solarisation, noise and blur, each applied to an image with
probability one half (RandAugment's random choice, vectorised), then a Cutout square of up to half
the side, the view the model must agree on. Both run inside the training step's graph: no Python
per image.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["strong_augment", "weak_augment"]


def _warp(x: Any, inverse: Any, shift: Any, fill: str = "NEAREST") -> Any:
    """Warp every image by its own 2×2 ``inverse`` map (output → input, about the centre) and
    ``shift`` (in pixels); ``tf.raw_ops.ImageProjectiveTransformV3`` as Keras' random layers use."""
    import tensorflow as tf

    shape = tf.shape(x)
    h = tf.cast(shape[1], tf.float32)
    w = tf.cast(shape[2], tf.float32)
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    a00, a01, a10, a11 = inverse[:, 0, 0], inverse[:, 0, 1], inverse[:, 1, 0], inverse[:, 1, 1]
    ox = cx + shift[:, 0]
    oy = cy + shift[:, 1]
    a2 = cx - (a00 * ox + a01 * oy)
    b2 = cy - (a10 * ox + a11 * oy)
    zeros = tf.zeros_like(a00)
    transforms = tf.stack([a00, a01, a2, a10, a11, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(images=x, transforms=transforms, output_shape=shape[1:3], fill_value=0.0,
                                                 interpolation="BILINEAR", fill_mode=fill)


def weak_augment(x: Any, flip: bool = False, shift: float = 0.125) -> Any:
    """A random shift of up to ``shift`` of the width/height (nearest-edge fill), and a random
    horizontal mirror with ``flip``."""
    import tensorflow as tf

    n = tf.shape(x)[0]
    size = tf.cast(tf.stack([tf.shape(x)[2], tf.shape(x)[1]]), tf.float32)
    offsets = tf.random.uniform((n, 2), -shift, shift) * size
    sign = tf.where(tf.random.uniform((n,)) < 0.5, -1.0, 1.0) if flip else tf.ones((n,))
    inverse = tf.stack([tf.stack([sign, tf.zeros((n,))], 1), tf.stack([tf.zeros((n,)), tf.ones((n,))], 1)], 1)
    return _warp(x, inverse, offsets)


def _per_image(p: float, n: Any) -> Any:
    import tensorflow as tf

    return tf.random.uniform((n, 1, 1, 1)) < p


def strong_augment(x: Any, flip: bool = False, cutout: float = 0.5, p: float = 0.5) -> Any:
    """RandAugment-style distortion (see the module docstring) followed by Cutout."""
    import tensorflow as tf

    shape = tf.shape(x)
    n = shape[0]
    h = tf.cast(shape[1], tf.float32)
    w = tf.cast(shape[2], tf.float32)
    # Geometry: rotation ±30°, shear ±0.3, zoom 0.8..1.2, shift ±0.2 (each in use with probability p).
    def on(values: Any) -> Any:
        return tf.where(tf.random.uniform(tf.shape(values)) < p, values, tf.zeros_like(values))

    angle = on(tf.random.uniform((n,), -math.pi / 6, math.pi / 6))
    shear = on(tf.random.uniform((n,), -0.3, 0.3))
    zoom = tf.exp(on(tf.random.uniform((n,), math.log(0.8), math.log(1.2))))
    offsets = tf.stack([on(tf.random.uniform((n,), -0.2, 0.2)) * w, on(tf.random.uniform((n,), -0.2, 0.2)) * h], 1)
    sign = tf.where(tf.random.uniform((n,)) < 0.5, -1.0, 1.0) if flip else tf.ones((n,))
    c, s = tf.cos(angle), tf.sin(angle)
    # inverse = R(angle) · [[1, shear], [0, 1]] / zoom, mirrored by sign
    inverse = tf.stack([tf.stack([c * sign, (c * shear - s)], 1), tf.stack([s * sign, (s * shear + c)], 1)], 1) / zoom[:, None, None]
    x = _warp(x, inverse, offsets)
    # Intensity.
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    contrast = tf.random.uniform((n, 1, 1, 1), 0.4, 1.6)
    x = tf.where(_per_image(p, n), (x - mean) * contrast + mean, x)
    x = tf.where(_per_image(p, n), x + tf.random.uniform((n, 1, 1, 1), -0.3, 0.3) * 255.0, x)
    x = tf.clip_by_value(x, 0.0, 255.0)
    threshold = tf.random.uniform((n, 1, 1, 1), 128.0, 255.0)
    x = tf.where(_per_image(p / 2, n), tf.where(x >= threshold, 255.0 - x, x), x)
    x = tf.where(_per_image(p, n), x + tf.random.normal(tf.shape(x), 0.0, 12.0), x)
    blurred = tf.nn.avg_pool2d(x, 3, 1, "SAME")
    x = tf.where(_per_image(p / 2, n), blurred, x)
    x = tf.clip_by_value(x, 0.0, 255.0)
    # Cutout: one grey square of side up to ``cutout`` of the image, anywhere (partly outside too).
    if cutout > 0:
        side = tf.random.uniform((n, 1, 1), 0.0, cutout) * tf.minimum(h, w)
        cy = tf.random.uniform((n, 1, 1), 0.0, h)
        cx = tf.random.uniform((n, 1, 1), 0.0, w)
        yy = tf.range(h)[None, :, None]
        xx = tf.range(w)[None, None, :]
        hole = (tf.abs(yy - cy) <= side / 2) & (tf.abs(xx - cx) <= side / 2)
        x = tf.where(hole[..., None], 127.5, x)
    return x
