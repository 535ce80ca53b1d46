"""The PaDiM model's texture statistics: each kept channel's local mean and standard deviation,
computed exactly, carried in the saved model, and modelled with the features."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drid.detect.anomaly.model import AnomalyModel
from drid.detect.anomaly.padim import fit_gaussian, mahalanobis_map, texture_statistics
from drid.detect.anomaly.textures import texture_set
from drid.detect.anomaly.train import fit_model, train_anomaly


def test_texture_statistics_are_the_local_mean_and_standard_deviation():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 12, 10, 3)).astype(np.float32)
    out = texture_statistics(f, 5)
    assert out.shape == (2, 12, 10, 9)
    assert np.array_equal(out[..., :3], f)
    window = f[1, 4:9, 3:8]  # the 5x5 window around the interior cell (6, 5)
    assert np.allclose(out[1, 6, 5, 3:6], window.mean(axis=(0, 1)), atol=1e-5)
    assert np.allclose(out[1, 6, 5, 6:9], window.std(axis=(0, 1)), atol=1e-4)


def test_a_flat_patch_in_a_busy_texture_stands_out_only_with_texture_statistics():
    """A cell's features can sit at the centre of the normal distribution while their
    neighbourhood varies far less than normal: the flat patch pasted into a textured surface."""
    rng = np.random.default_rng(1)
    normal = rng.normal(size=(40, 24, 24, 2)).astype(np.float32)
    test = rng.normal(size=(1, 24, 24, 2)).astype(np.float32)
    test[0, 8:16, 8:16] = 0.0  # the mean value everywhere: flat
    idx = np.arange(2)
    alone = fit_gaussian(normal, idx)
    stats = fit_gaussian(texture_statistics(normal, 5), idx)
    plain = mahalanobis_map(test, alone)[0]
    textured = mahalanobis_map(texture_statistics(test, 5), stats)[0]
    inside, outside = np.zeros((24, 24), bool), np.ones((24, 24), bool)
    inside[10:14, 10:14] = True
    outside[6:18, 6:18] = False
    assert plain[inside].mean() < plain[outside].mean()  # the features alone call the patch more normal than the texture
    assert textured[inside].min() > np.quantile(textured[outside], 0.99)


def test_the_window_is_saved_with_the_model_and_used_when_it_loads(tmp_path):
    data = texture_set("gravel", n_train=12, n_calibration=4, n_good=2, n_per_kind=1, seed=3)
    result = train_anomaly(np.concatenate([data.train, data.calibration]), tmp_path, name="g", size=64, texture_window=5)
    assert result.model.stats is not None and result.model.stats.mean.shape == (3 * 64,)
    assert json.loads(result.model_path.with_suffix(".json").read_text())["texture_window"] == 5
    loaded = AnomalyModel.load(result.model_path)
    assert loaded.texture_window == 5
    assert np.allclose(loaded.maps(data.test.images[:2]), result.model.maps(data.test.images[:2]), atol=1e-4)
    alone = fit_model(data.train, size=64, texture_window=0)
    assert alone.texture_window == 0 and alone.stats is not None and alone.stats.mean.shape == (64,)
    with pytest.raises(ValueError, match="texture window"):
        fit_model(data.train, size=64, texture_window=-1)
