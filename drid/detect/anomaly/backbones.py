"""Feature extractors for the patch-feature (PaDiM-style) model: a network that maps an image to
a map of feature vectors, several depths upsampled to one grid and concatenated.

Three sources of weights:

* ``random`` (default) — a small CNN with seeded random weights: no training, no download;
  Gaussian statistics of random convolutional features already separate many texture defects
  (docs/anomaly.md has the numbers; a self-supervised version of the same CNN, trained to tell
  photographs apart, was measured and did not do better on the textures, so none is bundled);
* ``file:PATH`` — a Keras model of your own (a .keras file) whose layers ``block1``..``block3``
  give features (the small CNN's names; e.g. the small CNN trained on your own task);
* ``keras:NAME`` — a ``keras.applications`` network (``keras:ResNet50``, ``keras:WideResNet``-like
  families in :data:`KERAS_LAYERS`) with ImageNet weights, which Keras downloads once into
  ``~/.keras/models``, or a weights file. This is PaDiM's own setting (it used ResNet-18 and
  WideResNet-50 layers 1–3).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ["KERAS_LAYERS", "SMALL_LAYERS", "build_extractor", "build_small_cnn", "load_backbone"]

#: The layers of the small CNN whose outputs are the features (strides 2, 4, 8; receptive fields 5, 13, 29 pixels).
SMALL_LAYERS = ("block1", "block2", "block3")

#: keras.applications networks known here: (module with preprocess_input, feature layers at strides 4, 8, 16).
KERAS_LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ResNet50": ("resnet50", ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out")),
    "ResNet50V2": ("resnet_v2", ("conv2_block3_1_relu", "conv3_block4_1_relu", "conv4_block6_1_relu")),
    "ResNet101": ("resnet", ("conv2_block3_out", "conv3_block4_out", "conv4_block23_out")),
    "MobileNetV2": ("mobilenet_v2", ("block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu")),
    "EfficientNetB0": ("efficientnet", ("block2b_add", "block3b_add", "block5c_add")),
    "DenseNet121": ("densenet", ("pool2_relu", "pool3_relu", "pool4_relu")),
}


def build_small_cnn(channels: int = 1, widths: tuple[int, ...] = (32, 64, 96), seed: int = 0) -> Any:
    """The small CNN of the ``drid`` and ``random`` backbones: blocks of two 3×3
    convolutions (the second with stride 2), ReLU after each; any input size. Input 0..255."""
    import keras
    from keras import layers

    init = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input((None, None, channels), name="pixels")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inputs)
    for i, w in enumerate(widths):
        x = layers.Conv2D(w, 3, padding="same", activation="relu", kernel_initializer=init, name=f"conv{i + 1}a")(x)
        x = layers.Conv2D(w, 3, strides=2, padding="same", activation="relu", kernel_initializer=init, name=SMALL_LAYERS[i])(x)
    return keras.Model(inputs, x, name="small_cnn")


def build_extractor(base: Any, layer_names: tuple[str, ...], preprocess: Any = None, pool: int = 3) -> Any:
    """A model from an image (0..255) to the outputs of ``layer_names`` of ``base``, each
    averaged over its ``pool``×``pool`` neighbourhood (PatchCore's local aggregation: a cell
    describes its surroundings, not only its receptive field's centre), resized (bilinear) to
    the grid of the first and concatenated along channels."""
    import keras
    from keras import layers

    outputs = [base.get_layer(n).output for n in layer_names]
    sub = keras.Model(base.inputs, outputs, name="features_of_" + base.name)
    inputs = keras.Input(base.inputs[0].shape[1:], name="image")
    x = preprocess(inputs) if preprocess is not None else inputs
    maps = sub(x)
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    if pool > 1:
        maps = [layers.AveragePooling2D(pool, strides=1, padding="same", name=f"pool{i + 1}")(m) for i, m in enumerate(maps)]
    resized = [maps[0]]
    for i, m in enumerate(maps[1:]):
        factor = 2 ** (i + 1)
        resized.append(layers.UpSampling2D(factor, interpolation="bilinear", name=f"up{i + 2}")(m))
    out = layers.Concatenate(name="features")(resized) if len(resized) > 1 else resized[0]
    return keras.Model(inputs, out, name="extractor")


def load_backbone(spec: str, *, channels: int, weights: str = "imagenet", seed: int = 0) -> tuple[Any, int]:
    """The feature extractor named by ``spec`` (``random``, ``file:PATH`` or ``keras:NAME``) and its
    stride (input pixels per feature cell). A ``keras:`` backbone takes 3 channels (grey images are
    repeated)."""
    if spec == "random":
        return build_extractor(build_small_cnn(channels, seed=seed), SMALL_LAYERS), 2
    if spec.startswith("file:"):
        from drid.recognize.bundle import load_keras_file

        path = Path(spec[len("file:"):]).expanduser()
        if not path.is_file():
            raise ValueError(f"backbone file not found: '{path}'")
        base = load_keras_file(path)
        if base.inputs[0].shape[-1] != channels:
            raise ValueError(f"the backbone '{path}' takes {base.inputs[0].shape[-1]}-channel images, the data has {channels}")
        missing = [n for n in SMALL_LAYERS if n not in {layer.name for layer in base.layers}]
        if missing:
            raise ValueError(f"the backbone '{path}' has no layer {', '.join(missing)} (a file: backbone names its feature layers {', '.join(SMALL_LAYERS)})")
        return build_extractor(base, SMALL_LAYERS), 2
    if spec.startswith("keras:"):
        return _keras_backbone(spec[len("keras:"):], weights), 4
    raise ValueError(f"unknown backbone '{spec}' (known: random, file:PATH, keras:NAME with NAME one of {', '.join(KERAS_LAYERS)})")


def _keras_backbone(name: str, weights: str) -> Any:
    import keras

    if name not in KERAS_LAYERS:
        raise ValueError(f"unknown keras backbone '{name}' (known: {', '.join(KERAS_LAYERS)})")
    module_name, layer_names = KERAS_LAYERS[name]
    if weights == "none":
        raise ValueError(f"keras:{name} without weights would be random features that a saved model cannot rebuild; "
                         "use --backbone random for random features, or give imagenet or a weights file")
    if weights != "imagenet" and not Path(weights).expanduser().is_file():
        raise ValueError(f"weights file not found: '{weights}' (use imagenet or a .h5/.weights.h5 file)")
    try:
        base = getattr(keras.applications, name)(include_top=False, weights=weights, input_shape=(None, None, 3))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        if weights == "imagenet":
            raise ValueError(f"cannot get the ImageNet weights of {name} ({first}); Keras downloads them once into ~/.keras/models: offline, "
                             "copy the 'notop' weights file there or pass a weights file") from None
        raise ValueError(f"cannot build {name} with weights '{weights}': {first}") from None
    module = importlib.import_module(f"keras.applications.{module_name}")
    preprocess = _Preprocess(module.preprocess_input)
    return build_extractor(base, layer_names, preprocess)


class _Preprocess:
    """keras.applications' preprocess_input as a callable on symbolic tensors (the extractor of a
    ``keras:`` backbone is rebuilt at load time, never saved, so no Lambda layer is serialised)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        from keras import layers

        return layers.Lambda(self.fn, name="preprocess")(x)
