"""The PatchCore-style model: a greedy coreset covers the normal features better than a random
subset, nearest-neighbour distances are exact, and a memory fitted in seconds on normal brick
ranks defect pixels above normal ones, saves and loads exactly, and drives the ``anomaly`` plugin."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drid.detect.anomaly.model import AnomalyModel
from drid.detect.anomaly.patchcore import fit_memory, greedy_coreset, nearest_distances
from drid.detect.anomaly.plugin import AnomalyDetector
from drid.detect.anomaly.textures import texture_set
from drid.detect.anomaly.train import fit_model, train_anomaly
from drid.eval.anomaly import evaluate_maps
from drid.schemas import Frame


def _clusters(seed: int = 0) -> np.ndarray:
    """3000 points in 200 dimensions: one large cluster and fifteen small far-away ones (rare normal patches)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(16, 200))
    sizes = [1800] + [80] * 15
    return np.concatenate([c + rng.normal(size=(n, 200)) for c, n in zip(centres, sizes)]).astype(np.float32)


def _radius(points: np.ndarray, subset: np.ndarray) -> float:
    """The largest distance of any point to its nearest point of ``subset``."""
    return float(nearest_distances(points, points[subset])[:, 0].max())


def test_the_greedy_coreset_is_deterministic_per_seed_and_covers_better_than_random_subsets():
    x = _clusters()
    chosen = greedy_coreset(x, 40, seed=3)
    assert np.array_equal(chosen, greedy_coreset(x, 40, seed=3))
    assert len(np.unique(chosen)) == 40
    core = _radius(x, chosen)
    rng = np.random.default_rng(0)
    random = [_radius(x, rng.choice(len(x), 40, replace=False)) for _ in range(5)]
    assert core < 0.8 * min(random), (core, random)
    # every one of the sixteen clusters has a memory vector (a random 40 of 3000 misses small ones)
    cluster = np.repeat(np.arange(16), [1800] + [80] * 15)
    assert len(set(cluster[chosen])) == 16


def test_nearest_distances_are_the_exact_k_nearest_in_chunks():
    rng = np.random.default_rng(1)
    q, m = rng.normal(size=(300, 7)).astype(np.float32), rng.normal(size=(50, 7)).astype(np.float32)
    brute = np.sort(np.linalg.norm(q[:, None] - m[None], axis=2), axis=1)[:, :3]
    assert np.allclose(nearest_distances(q, m, k=3, chunk=64), brute, atol=1e-4)
    assert np.allclose(nearest_distances(q, m, k=1, chunk=1000)[:, 0], brute[:, 0], atol=1e-4)
    with pytest.raises(ValueError, match="k is between 1 and the memory's 50"):
        nearest_distances(q, m, k=51)


def test_a_memory_keeps_the_chosen_number_of_standardised_vectors():
    rng = np.random.default_rng(2)
    f = (rng.normal(size=(6, 10, 10, 4)) * [1, 10, 100, 1000]).astype(np.float32)
    bank = fit_memory(f, np.arange(4), size=30, pool=400, k=2, border=1)
    assert bank.vectors.shape == (30, 4) and bank.k == 2
    assert np.allclose(bank.scale / [1, 10, 100, 1000], 1.0, atol=0.2)  # each dimension weighs alike in the distance
    with pytest.raises(ValueError, match="600 normal feature vectors cannot fill a memory of 700"):
        fit_memory(f, np.arange(4), size=700, pool=800)
    with pytest.raises(ValueError, match="neighbours <= memory <= pool"):
        fit_memory(f, np.arange(4), size=300, pool=200)


@pytest.fixture(scope="module")
def brick():
    return texture_set("brick", n_train=24, n_calibration=6, n_good=6, n_per_kind=3, seed=2)


@pytest.fixture(scope="module")
def patchcore(brick, tmp_path_factory):
    """A memory of 500 vectors chosen among 5000 cells of 24 normal brick images, calibrated on 6."""
    out = tmp_path_factory.mktemp("models")
    return train_anomaly(np.concatenate([brick.train, brick.calibration]), out, name="brick-pc", kind="patchcore", memory=500, pool=5000)


def test_patchcore_ranks_defect_pixels_above_normal_texture(patchcore, brick):
    report = evaluate_maps(patchcore.model.maps(brick.test.images), brick.test.masks, brick.test.kinds)
    assert report.pixel_auroc > 0.9, report.table()
    assert report.per_kind["hole"]["pixel_auroc"] > 0.95, report.table()


def test_a_saved_patchcore_model_loads_with_its_memory_and_gives_the_same_maps(patchcore, brick):
    path = patchcore.model_path
    loaded = AnomalyModel.load(path)
    assert loaded.kind == "patchcore" and loaded.memory is not None and loaded.stats is None
    assert loaded.memory.vectors.shape == (500, 3 * 64) and loaded.threshold == pytest.approx(patchcore.threshold)
    assert np.array_equal(loaded.maps(brick.test.images[:3]), patchcore.model.maps(brick.test.images[:3]))
    meta = json.loads(path.with_suffix(".json").read_text())
    assert (meta["kind"], meta["memory"], meta["pool"], meta["neighbours"], meta["dims"]) == ("patchcore", 500, 5000, 1, 64)
    assert "memory of 500 vectors" in path.with_suffix(".card.md").read_text()


def test_the_plugin_finds_the_hole_with_a_patchcore_model(patchcore, brick):
    detector = AnomalyDetector(model=str(patchcore.model_path))
    i = brick.test.kinds.index("hole")
    found = detector.drid_detect(Frame(index=0, image=np.repeat(brick.test.images[i][..., None], 3, axis=2)))
    assert found and all(d.label == "anomaly" and 0.5 <= d.score < 1.0 for d in found)
    b = found[0].box
    assert brick.test.masks[i][int(b.y1):int(b.y2), int(b.x1):int(b.x2)].any(), "the strongest region misses the hole"


def test_patchcore_parameters_are_checked(brick):
    with pytest.raises(ValueError, match="1 <= neighbours <= memory <= pool"):
        fit_model(brick.train[:2], kind="patchcore", memory=100, pool=50)
