"""Recognize: the ``keras-classifier`` plugin, the model bundles it loads (``models/`` holds the
ones drid ships), crops, and ``drid train classifier``."""
