"""The networks ``drid train classifier`` trains: a small CNN, or a ``keras.applications``
backbone with a new head. Input scaling is built from standard layers, so the saved model loads
in Keras' safe mode and takes 0..255 pixels."""

from __future__ import annotations

from typing import Any

import numpy as np

from drid.errors import ConfigError, DridError
from drid.recognize.classifier import APPLICATIONS

__all__ = ["augmenter", "build_backbone", "build_small_cnn"]

#: How each keras.applications family wants its input, rebuilt from standard layers (safe mode).
_FAMILY_SCALING = {
    "mobilenet": "tf", "mobilenet_v2": "tf", "inception_v3": "tf", "xception": "tf", "nasnet": "tf", "resnet_v2": "tf",
    "mobilenet_v3": "none", "efficientnet": "none", "efficientnet_v2": "none", "convnext": "none",
    "densenet": "torch", "resnet50": "caffe", "vgg16": "caffe",
}



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


def augmenter(flip: bool, seed: int) -> Any:
    """Random shifts, zoom, rotation, contrast and brightness (and mirroring with ``flip``)."""
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
