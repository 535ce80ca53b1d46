"""Semi-supervised recognition: training a classifier from a few labelled images and many
unlabelled ones (``drid train classifier DATA --unlabeled DIR``).

- :mod:`~drid.recognize.semi.fixmatch`: pseudo-label self-training with consistency (FixMatch).
- :mod:`~drid.recognize.semi.acgan`: an auxiliary-classifier GAN whose class-conditional samples
  are added to the labelled data (``--augment acgan``).
- :mod:`~drid.recognize.semi.augment`: the weak and strong augmentations both use.

The trained classifier is the plain small CNN of :mod:`drid.recognize.networks`: it loads in
``keras-classifier`` like any other bundle; its metadata says how it was trained.
"""

from drid.recognize.semi.acgan import ACGAN, ACGANConfig, sample_grid
from drid.recognize.semi.fixmatch import FixMatchConfig, fit_fixmatch

__all__ = ["ACGAN", "ACGANConfig", "FixMatchConfig", "fit_fixmatch", "sample_grid"]
