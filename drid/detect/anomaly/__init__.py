"""Unsupervised anomaly localization: learn what normal looks like from defect-free images only,
then localize what deviates (``drid train anomaly``, the ``anomaly`` detector, ``drid eval anomaly``).

* :mod:`~drid.detect.anomaly.model` — :class:`AnomalyModel` (maps, threshold, files);
* :mod:`~drid.detect.anomaly.padim` and :mod:`~drid.detect.anomaly.backbones` — Gaussian statistics
  of convolutional features (PaDiM-style) and the networks that give them;
* :mod:`~drid.detect.anomaly.autoencoder` — the convolutional autoencoder with an SSIM loss;
* :mod:`~drid.detect.anomaly.train` — training and calibration;
* :mod:`~drid.detect.anomaly.textures` and :mod:`~drid.detect.anomaly.defects` — real textures that
  packages ship and synthetic defects with known masks, to check a model before real defects exist;
* :mod:`~drid.detect.anomaly.data` — folders of normal images and the MVTec AD layout;
* :mod:`~drid.detect.anomaly.plugin` — the ``anomaly`` detector; :mod:`~drid.detect.anomaly.show` — pictures.

Importing this package does not import TensorFlow.
"""

from drid.detect.anomaly.model import AnomalyModel, calibrate, normalize

__all__ = ["AnomalyModel", "calibrate", "normalize"]
