"""Anomaly scores (image/pixel AUROC, PRO) against independent references."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from drid.eval.anomaly import auroc, evaluate_maps, pro_score


def test_auroc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.random(500) < 0.3
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounded: many ties
    assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_auroc_refuses_one_class():
    with pytest.raises(ValueError, match="both classes"):
        auroc(np.ones(4), np.zeros(4))


def _pro_by_threshold_grid(maps, masks, limit=0.3, steps=4000):
    """The PRO curve the slow way (MVTec's original definition): per threshold, the mean overlap
    of each region, against the false-positive rate; integrated by the trapezoid rule."""
    regions = []
    for i, m in enumerate(masks):
        n, lab = cv2.connectedComponents(m.astype(np.uint8), connectivity=8)
        regions += [(i, lab == k) for k in range(1, n)]
    good = ~masks
    points = []
    for t in np.linspace(maps.max() + 1e-9, maps.min() - 1e-9, steps):
        hot = maps >= t
        fpr = hot[good].mean()
        pro = np.mean([hot[i][r].mean() for i, r in regions])
        points.append((fpr, pro))
    fpr, pro = np.array(points).T
    keep = fpr <= limit
    f, p = np.r_[fpr[keep], limit], np.r_[pro[keep], np.interp(limit, fpr, pro)]
    rule = getattr(np, "trapezoid", None) or getattr(np, "trapz")  # noqa: B009 (NumPy 2 renamed it)
    return rule(p, f) / limit


def test_pro_matches_the_threshold_definition():
    rng = np.random.default_rng(1)
    masks = np.zeros((3, 32, 32), bool)
    masks[0, 4:8, 4:20] = True     # a long region, and a small one in the same image
    masks[0, 20:23, 20:23] = True
    masks[1, 10:26, 10:26] = True  # a large one; image 2 is good
    maps = rng.random(masks.shape) + masks * rng.uniform(0.2, 0.8, masks.shape)
    assert pro_score(maps, masks) == pytest.approx(_pro_by_threshold_grid(maps, masks), abs=2e-3)


def test_pro_weighs_regions_not_pixels():
    masks = np.zeros((1, 40, 40), bool)
    masks[0, 0:20, 0:20] = True   # 400 pixels, found
    masks[0, 30:32, 30:32] = True  # 4 pixels, missed
    maps = masks.astype(float) * 0.0
    maps[0, 0:20, 0:20] = 1.0
    # Pixel AUROC is nearly perfect (400 of 404 defect pixels ranked first); PRO sees one region
    # of two found until the threshold drops to 0, where every pixel turns hot at once: the curve
    # runs from (0, 0.5) straight to (1, 1), so its area to 0.3 is (0.5 + 0.65) / 2 · 0.3, over 0.3.
    assert auroc(maps, masks) > 0.99
    assert pro_score(maps, masks) == pytest.approx(0.575)


def test_perfect_and_uninformative_maps():
    rng = np.random.default_rng(2)
    masks = np.zeros((6, 24, 24), bool)
    for i in range(3):
        masks[i, 5 + i:12 + i, 6:14] = True
    kinds = ["scratch"] * 3 + ["good"] * 3
    perfect = evaluate_maps(masks.astype(np.float32), masks, kinds)
    assert (perfect.image_auroc, perfect.pixel_auroc) == (1.0, 1.0) and perfect.pro == pytest.approx(1.0)
    noise = evaluate_maps(rng.random(masks.shape), masks, kinds)
    assert 0.35 < noise.pixel_auroc < 0.65 and noise.pro < 0.3
    assert set(noise.per_kind) == {"scratch"} and noise.n_good == 3


def test_shapes_must_match():
    with pytest.raises(ValueError, match="do not match"):
        evaluate_maps(np.zeros((2, 4, 4)), np.zeros((2, 4, 5), bool), ["good", "hole"])
