"""Anomaly models trained on normal texture only: they rank synthetic defects above normal
texture, save and load exactly, and the ``anomaly`` plugin turns their maps into detections."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drid.detect.anomaly.model import AnomalyModel, calibrate, normalize
from drid.detect.anomaly.plugin import AnomalyDetector, regions
from drid.detect.anomaly.textures import texture_set
from drid.detect.anomaly.train import fit_model, train_anomaly
from drid.eval.anomaly import evaluate_maps
from drid.schemas import Frame


@pytest.fixture(scope="module")
def brick():
    return texture_set("brick", n_train=32, n_calibration=10, n_good=6, n_per_kind=3, seed=2)


@pytest.fixture(scope="module")
def padim(brick, tmp_path_factory):
    """A PaDiM model (defaults: random backbone, 100 channels, shared statistics) fitted to 34 of
    the normal images and calibrated on the other 8, saved."""
    out = tmp_path_factory.mktemp("models")
    return train_anomaly(np.concatenate([brick.train, brick.calibration]), out, name="brick")


def test_padim_ranks_defect_pixels_above_normal_texture(padim, brick):
    report = evaluate_maps(padim.model.maps(brick.test.images), brick.test.masks, brick.test.kinds)
    assert report.pixel_auroc > 0.8, report.table()
    assert report.per_kind["hole"]["pixel_auroc"] > 0.95 and report.per_kind["stain"]["pixel_auroc"] > 0.9, report.table()


def test_an_autoencoder_trained_for_seconds_ranks_holes_above_normal_texture(brick):
    model = fit_model(brick.train[:16], kind="ssim-ae", epochs=3)
    report = evaluate_maps(model.maps(brick.test.images), brick.test.masks, brick.test.kinds)
    assert report.per_kind["hole"]["pixel_auroc"] > 0.8, report.table()
    assert report.pixel_auroc > 0.6, report.table()


def test_saved_model_loads_with_its_threshold_and_gives_the_same_maps(padim, brick):
    loaded = AnomalyModel.load(padim.model_path)
    assert loaded.kind == "padim" and loaded.threshold == pytest.approx(padim.threshold)
    assert np.allclose(loaded.maps(brick.test.images[:3]), padim.model.maps(brick.test.images[:3]), atol=1e-4)
    meta = json.loads(padim.model_path.with_suffix(".json").read_text())
    assert meta["fpr"] == 0.05 and meta["calibration_images"] == 8 and meta["train_images"] == 34
    assert padim.model_path.with_suffix(".npz").is_file() and padim.model_path.with_suffix(".card.md").is_file()


def test_calibration_holds_the_chosen_share_of_normal_images_at_or_above_the_threshold():
    peaks = np.arange(1, 101, dtype=np.float32)
    maps = np.zeros((100, 4, 4), np.float32)
    maps[:, 0, 0] = peaks
    t = calibrate(maps, 0.05)
    assert (peaks > t).mean() == pytest.approx(0.05)
    assert normalize(np.array([t]), t)[0] == pytest.approx(0.5)


def test_plugin_finds_the_defect_and_carries_the_map(padim, brick):
    detector = AnomalyDetector(model=str(padim.model_path), full_map=True)
    i = brick.test.kinds.index("hole")
    image = np.repeat(brick.test.images[i][..., None], 3, axis=2)  # a BGR frame, as sources give
    found = detector.drid_detect(Frame(index=0, image=image))
    anomalies = [d for d in found if d.label == "anomaly"]
    assert anomalies, "no region on an image with a hole"
    top = anomalies[0]
    mask = brick.test.masks[i]
    b = top.box
    assert mask[int(b.y1):int(b.y2), int(b.x1):int(b.x2)].any(), "the strongest region misses the hole"
    assert 0.5 <= top.score < 1.0 and top.mask is not None and top.mask.dtype.kind == "f"
    assert top.mask.shape == (int(b.y2 - b.y1), int(b.x2 - b.x1)) and top.mask.max() == pytest.approx(top.score)
    whole = [d for d in found if d.label == "anomaly-map"]
    assert len(whole) == 1 and whole[0].mask is not None and whole[0].mask.shape == image.shape[:2]


def test_regions_are_joined_hot_pixels_above_a_minimum_area():
    score = np.zeros((20, 20), np.float32)
    score[2:6, 2:6] = 0.7
    score[10, 10] = 0.9   # one hot pixel: noise
    score[12:16, 12:18] = 0.6
    assert regions(score, 4) == [(2, 2, 6, 6, pytest.approx(0.7)), (12, 12, 18, 16, pytest.approx(0.6))]


def test_bad_model_paths_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="model file not found: '.*nowhere/m.keras'"):
        AnomalyDetector(model=str(tmp_path / "nowhere" / "m.keras"))
    (tmp_path / "m.keras").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an anomaly model: 'm.json' is missing"):
        AnomalyDetector(model=str(tmp_path / "m.keras"))
    with pytest.raises(ValueError, match="unknown backbone 'resnet'.*random, file:PATH, keras:NAME"):
        fit_model(np.zeros((4, 32, 32), np.uint8), backbone="resnet")


@pytest.mark.slow
def test_a_keras_applications_backbone_is_named_in_the_model_and_rebuilt_when_it_loads(brick, tmp_path):
    """PaDiM's own setting, with a weights file standing in for ImageNet's (no download here)."""
    import keras

    weights = tmp_path / "mobilenet.weights.h5"
    keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(None, None, 3)).save_weights(weights)
    result = train_anomaly(brick.train[:10], tmp_path, name="mnv2", backbone="keras:MobileNetV2", weights=str(weights), size=64, dims=50)
    assert result.model_path is not None and not result.model_path.exists(), "the user's backbone is not copied into the model file"
    loaded = AnomalyModel.load(result.model_path)
    assert loaded.backbone == "keras:MobileNetV2" and loaded.stride == 4
    assert np.allclose(loaded.maps(brick.test.images[:2]), result.model.maps(brick.test.images[:2]), atol=1e-3)
    with pytest.raises(ValueError, match="random features that a saved model cannot rebuild"):
        fit_model(brick.train[:4], backbone="keras:MobileNetV2", weights="none")
