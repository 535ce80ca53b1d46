"""drid's own learned detector: a compact one-stage, anchor-free CenterNet on a small
depthwise-separable backbone, trained by ``drid train detector`` and run by the ``detector``
plugin (``model: NAME.keras``, or its TFLite export with ``format: tflite``).

* ``model``     — the network: backbone, a two-level feature pyramid and the CenterNet heads
* ``encoding``  — letterboxing, boxes to training targets, heads back to boxes (numpy)
* ``data``      — annotated samples from COCO JSON, YOLO text files or drid ground truth;
                  augmentation (flips, scale, colour, crops) and batches
* ``split``     — the grouped split: neighbouring video frames never straddle train and validation
* ``train``     — the training loop (early stopping), held-out AP, learning curves, model card
* ``export``    — TFLite with the standard post-processed outputs
* ``backend``   — the Keras backend of the ``detector`` plugin
* ``pseudo``    — pseudo-labels from a teacher pipeline (persistent tracks, smoothed boxes)

Nothing here loads TensorFlow at import time.
"""
