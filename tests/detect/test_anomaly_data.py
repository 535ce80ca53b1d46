"""The texture defect generator and the MVTec AD folder loader."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from drid.detect.anomaly.data import load_mvtec_test, normal_folder, read_images
from drid.detect.anomaly.defects import DEFECT_KINDS, add_defect
from drid.detect.anomaly.textures import TRAIN_ROWS, load_texture, texture_names, texture_set


@pytest.fixture(scope="module")
def brick() -> np.ndarray:
    return load_texture("brick")[TRAIN_ROWS:TRAIN_ROWS + 128, :128]


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_a_defect_changes_the_pixels_of_its_mask_and_leaves_the_rest(brick, kind):
    rng = np.random.default_rng(3)
    foreign = load_texture("gravel")[TRAIN_ROWS:TRAIN_ROWS + 128, :128]
    for _ in range(5):
        out, mask = add_defect(brick, kind, rng, foreign=foreign)
        assert out.shape == brick.shape and out.dtype == np.uint8
        share = mask.mean()
        assert 0.001 < share < 0.12, f"{kind} covers {share:.2%} of the image"
        change = np.abs(out.astype(int) - brick.astype(int))
        far = ~cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
        assert change[far].max() <= 1, f"{kind} changed pixels far from its mask"
        assert change[mask].mean() > 4 * max(change[far].mean(), 1.0), f"{kind} is invisible inside its mask"


def test_unknown_defect_and_texture_are_named():
    with pytest.raises(ValueError, match="unknown defect kind 'dent'.*scratch"):
        add_defect(np.zeros((32, 32), np.uint8), "dent", np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown texture 'carpet'.*brick"):
        load_texture("carpet")


def test_texture_set_is_seeded_and_holds_out_its_test_rows():
    a = texture_set("grass", n_train=6, n_calibration=2, n_good=3, n_per_kind=2, seed=5)
    b = texture_set("grass", n_train=6, n_calibration=2, n_good=3, n_per_kind=2, seed=5)
    assert np.array_equal(a.test.images, b.test.images) and np.array_equal(a.train, b.train)
    assert list(a.test.kinds) == ["good"] * 3 + [k for k in DEFECT_KINDS for _ in range(2)]
    assert a.test.labels.sum() == 8 and not a.test.masks[:3].any() and all(m.any() for m in a.test.masks[3:])
    # Every good test crop comes from the held-out rows: found there, not in the training rows.
    full = load_texture("grass")
    for crop in a.test.images[:3]:
        hit = cv2.matchTemplate(full, crop, cv2.TM_SQDIFF)
        y = int(np.unravel_index(np.argmin(hit), hit.shape)[0])
        assert y >= TRAIN_ROWS
    assert texture_names() == ["brick", "grass", "gravel"]


def test_mvtec_tree_round_trip(tmp_path):
    data = texture_set("gravel", size=64, n_train=5, n_calibration=2, n_good=2, n_per_kind=1, seed=0)
    root = data.write(tmp_path / "gravel")
    assert sorted(p.name for p in (root / "test").iterdir()) == sorted(["good", *DEFECT_KINDS])
    assert normal_folder(root) == root / "train" / "good"
    assert len(read_images(root)) == 7
    test = load_mvtec_test(root)
    assert sorted(test.kinds) == sorted(data.test.kinds)
    for image, mask, name in zip(test.images, test.masks, test.names):
        i = [j for j, k in enumerate(data.test.kinds) if k == name.split("/")[0]][int(name.split("/")[1][:3])]
        assert np.array_equal(image, data.test.images[i]) and np.array_equal(mask, data.test.masks[i])


def test_mvtec_loader_says_what_is_missing(tmp_path):
    root = texture_set("brick", size=64, n_train=3, n_calibration=1, n_good=1, n_per_kind=1, seed=0).write(tmp_path / "brick")
    (root / "ground_truth" / "hole" / "000_mask.png").unlink()
    with pytest.raises(ValueError, match=r"no mask for '.*hole/000.png': expected '.*ground_truth/hole/000_mask.png'"):
        load_mvtec_test(root)
    with pytest.raises(ValueError, match="not an MVTec AD category folder: no 'test' folder"):
        load_mvtec_test(root / "train")
    with pytest.raises(ValueError, match="folder not found"):
        read_images(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        read_images(tmp_path / "empty")


def test_defects_work_on_colour_images(sample_photos):
    photo = cv2.imread(str(sample_photos / "flower.jpg"))[100:228, 200:328]
    rng = np.random.default_rng(0)
    for kind in DEFECT_KINDS:
        out, mask = add_defect(photo, kind, rng)
        assert out.shape == photo.shape and out.dtype == np.uint8 and mask.shape == photo.shape[:2] and mask.any()
        assert np.abs(out.astype(int) - photo.astype(int))[mask].mean() > 5, kind
