"""The network of drid's learned detector: CenterNet heads (Zhou et al., "Objects as Points",
2019) on a small depthwise-separable backbone.

The input is RGB in 0..255 (scaling is a layer of the model, so a saved file needs no code);
the output one tensor of stride ``STRIDE``: ``C`` class heat-maps (sigmoid) then four box
channels (the centre's offset inside its cell, x and y, and the log of the box width and height
in cells). Features of stride 16 and 32 are upsampled into the stride-8 map (a two-level
pyramid), so small and large objects share one head.

Cost, measured at 320×192 input: see ``docs/training-detectors.md``."""

from __future__ import annotations

from typing import Any

__all__ = ["ARCHITECTURE", "STRIDE", "build_centernet"]

#: Output stride: one cell of the heat-map covers STRIDE × STRIDE input pixels.
STRIDE = 8
#: The name stored in a model's metadata; the backend refuses other layouts.
ARCHITECTURE = "drid-centernet-v1"
#: Batch-norm statistics follow the data quickly (Keras' 0.99 needs thousands of steps before
#: the inference-time statistics are right; short runs on small data sets have hundreds).
BN_MOMENTUM = 0.9


def _sep(x: Any, filters: int, stride: int = 1, name: str = "") -> Any:
    import keras
    from keras import layers

    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=keras.initializers.HeNormal(), name=f"{name}_pw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_pw_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_pw_relu")(x)


def build_centernet(input_size: tuple[int, int], n_classes: int, width: float = 1.0, name: str = "centernet") -> Any:
    """A CenterNet for ``input_size`` ``(width, height)`` (multiples of 32) and ``n_classes``;
    ``width`` multiplies every layer's channel count."""
    import keras
    from keras import layers

    w_in, h_in = input_size
    if w_in % 32 or h_in % 32:
        raise ValueError(f"input size {w_in}x{h_in}: width and height must be multiples of 32")
    if n_classes < 1:
        raise ValueError("a detector needs at least one class")

    def ch(n: int) -> int:
        return max(8, int(round(n * width / 8)) * 8)

    inputs = keras.Input((h_in, w_in, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(inputs)
    x = layers.Conv2D(ch(16), 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)                       # /2
    x = _sep(x, ch(32), 2, "b1")                                     # /4
    x = _sep(x, ch(32), 1, "b2")
    x = _sep(x, ch(48), 2, "b3")                                     # /8
    c8 = _sep(x, ch(48), 1, "b4")
    x = _sep(c8, ch(96), 2, "b5")                                    # /16
    x = _sep(x, ch(96), 1, "b6")
    c16 = _sep(x, ch(96), 1, "b7")
    x = _sep(c16, ch(128), 2, "b8")                                  # /32
    c32 = _sep(x, ch(128), 1, "b9")
    # top-down: /32 into /16 into /8 (1×1 lateral projections, nearest upsampling, sum)
    p16 = layers.Add(name="p16")([
        layers.Conv2D(ch(64), 1, name="lat16")(c16),
        layers.UpSampling2D(2, name="up32")(layers.Conv2D(ch(64), 1, name="lat32")(c32)),
    ])
    p16 = _sep(p16, ch(64), 1, "f16")
    p8 = layers.Add(name="p8")([layers.Conv2D(ch(64), 1, name="lat8")(c8), layers.UpSampling2D(2, name="up16")(p16)])
    p8 = _sep(p8, ch(64), 1, "f8")
    heat = _sep(p8, ch(48), 1, "heat_conv")
    # focal-loss prior: every cell starts at p = 0.1 (CenterNet's bias of -2.19)
    heat = layers.Conv2D(n_classes, 1, activation="sigmoid", bias_initializer=keras.initializers.Constant(-2.19), name="heatmap")(heat)
    box = _sep(p8, ch(48), 1, "box_conv")
    box = layers.Conv2D(4, 1, name="box")(box)
    out = layers.Concatenate(name="heads")([heat, box])
    return keras.Model(inputs, out, name=name)
