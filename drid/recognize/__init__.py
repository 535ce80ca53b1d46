"""Recognize: the ``keras-classifier`` plugin (``classifier``), the model-bundle format
(``bundle``; ``models/`` holds the bundles drid ships), crops as a classifier sees them
(``crops``), and ``drid train classifier``'s library: training data (``dataset``), networks
(``networks``), the training run (``train``) and its report (``report``); ``semi/``, semi-supervised
training (FixMatch pseudo-labels with consistency, AC-GAN augmentation)."""
