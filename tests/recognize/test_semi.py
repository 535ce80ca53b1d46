"""Semi-supervised recognition: FixMatch pseudo-labelling improves over its supervised start on a
fixed split of real handwritten digits; harvested crops (a few sorted by hand, the rest not) train
through ``drid train classifier --unlabeled`` into a bundle the plugin reads; the AC-GAN draws
digits a judge trained on real ones recognises and writes its grid; bad options get one line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import pytest

from drid.cli import main
from drid.demos.digits import BLOB_PARAMS, digits_split, load_digits, make_page, page_indices, render_digit, score_page
from drid.pipeline import Pipeline
from drid.schemas import Frame
from drid.testing import ListSource


@pytest.fixture(scope="module")
def digits16() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 scikit-learn digits as 16×16 grey renderings (dark ink on light paper), 0..255."""
    images, targets = load_digits()
    return np.stack([render_digit(im, scale=2) for im in images])[..., None].astype(np.float32), targets.astype(np.int64)


def fixed_split(targets: np.ndarray, per_class: int, n_unlabelled: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(0).permutation(len(targets))
    test, pool = order[:300], order[300:]
    rng = np.random.default_rng(0)
    labelled = np.concatenate([rng.choice(pool[targets[pool] == k], per_class, replace=False) for k in range(10)])
    return test, labelled, np.setdiff1d(pool, labelled)[:n_unlabelled]


def test_pseudo_labelling_improves_over_its_supervised_start(digits16):
    import keras

    from drid.recognize.networks import build_small_cnn
    from drid.recognize.semi import FixMatchConfig, fit_fixmatch

    x, y = digits16
    test, lab, unl = fixed_split(y, per_class=2, n_unlabelled=600)
    keras.utils.set_random_seed(0)
    model = build_small_cnn(16, 16, 1, 10)
    config = FixMatchConfig(steps=500, supervised_steps=100, batch_size=16, evaluate_every=50)
    history = fit_fixmatch(model, x[lab], y[lab], x[unl], config, seed=0, x_val=x[test], y_val=y[test], y_unlabelled_truth=y[unl])
    start, final = history["start_val_accuracy"][0], history["val_accuracy"][-1]
    # Measured (seed 0, 20 labels, 600 unlabelled, 300 held-out digits): start 0.703, after 400
    # FixMatch steps 0.890 (+18.7 points); 97 % of the kept pseudo-labels right, 47 % kept.
    assert final >= start + 0.10, (start, final)
    assert history["pseudo_accuracy"][-1] >= 0.9 and history["mask"][-1] >= 0.3
    assert history["mask"][0] == 0.0  # the supervised start has no unlabelled loss
    # The weights left in the model are the ones scored (the moving average).
    probs = np.asarray(model(x[test], training=False))
    assert float((probs.argmax(1) == y[test]).mean()) == pytest.approx(final)


def test_weak_and_strong_views(digits16):
    import tensorflow as tf

    from drid.recognize.semi.augment import strong_augment, weak_augment

    x = tf.constant(digits16[0][:64])
    tf.random.set_seed(0)
    assert np.allclose(weak_augment(x, shift=0.0).numpy(), x.numpy(), atol=1e-3)  # no shift: the image itself
    weak, strong = weak_augment(x).numpy(), strong_augment(x).numpy()
    assert weak.shape == strong.shape == x.shape and 0 <= strong.min() and strong.max() <= 255
    change = lambda a: float(np.abs(a - x.numpy()).mean())  # noqa: E731
    assert 0 < change(weak) < change(strong)
    # A shift moves the ink without creating any: the weak view keeps a digit's ink within 15 %.
    ink = lambda a: (255 - a).sum(axis=(1, 2, 3))  # noqa: E731
    assert np.median(np.abs(ink(weak) / ink(x.numpy()) - 1)) < 0.15


@pytest.fixture(scope="module")
def harvested(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Digit crops harvested from three 'video' frames of handwriting by blobs → harvest
    (label_from none), then 3 crops per class sorted by hand (moved by their truth) and the rest
    left in unlabeled/."""
    images, targets = load_digits()
    ids = page_indices(300, seed=1)
    frames, truth = [], {}
    for i in range(3):
        page, t = make_page(ids[i * 100:(i + 1) * 100], images, targets, seed=10 + i, columns=10)
        frames.append(Frame(index=i, source="handwriting.mp4", image=page))
        truth.update({(i, tuple(d["box"])): d["label"] for d in t})
    out = tmp_path_factory.mktemp("harvest") / "crops"
    Pipeline(source=ListSource(frames), detect=[("blobs", {**BLOB_PARAMS, "label": "digit"})],
             sinks=[("harvest", {"path": str(out), "label_from": "none", "padding": 0.15, "min_size": 4})]).run()
    labels: dict[str, str] = {}
    for line in (out / "crops.jsonl").read_text().splitlines():
        e = json.loads(line)
        match = [lab for (f, b), lab in truth.items() if f == e["frame"] and abs(b[0] - e["box"][0]) < 3 and abs(b[1] - e["box"][1]) < 3]
        if match:
            labels[e["file"]] = match[0]
    taken: dict[str, int] = {}
    for file, label in sorted(labels.items()):
        if taken.get(label, 0) < 3:
            (out / label).mkdir(exist_ok=True)
            shutil.move(str(out / file), str(out / label / Path(file).name))
            taken[label] = taken.get(label, 0) + 1
    return out, labels


def test_harvested_crops_train_with_unlabeled_and_load_in_the_plugin(harvested, tmp_path, capsys):
    crops, _ = harvested
    n_unlabelled = len(list((crops / "unlabeled").glob("*.png")))
    assert n_unlabelled >= 250
    models = tmp_path / "models"
    status = main(["train", "classifier", str(crops), "--unlabeled", str(crops / "unlabeled"), "--out", str(models), "--name", "semi",
                   "--size", "16", "--channels", "1", "--steps", "300", "--batch-size", "16", "--no-progress"])
    assert status == 0
    text = capsys.readouterr().out
    assert f"fixmatch: 30 labelled, {n_unlabelled} unlabelled images" in text
    meta = json.loads((models / "semi.json").read_text())
    t = meta["training"]
    assert t["method"] == "fixmatch" and t["labelled"] == 30 and t["unlabelled"] == n_unlabelled
    assert t["steps"]["threshold"] == 0.95 and t["steps"]["steps"] == 300 and t["unlabelled_folder"].endswith("unlabeled")
    assert meta["labels"] == [str(k) for k in range(10)]  # unlabeled/ is not a class
    card = (models / "semi.card.md").read_text()
    assert "Method: **fixmatch**" in card and f"unlabelled images: {n_unlabelled}" in card and "Supervised start" in card
    # The bundle is an ordinary one: blobs → keras-classifier reads a page of digits it never saw.
    images, targets = load_digits()
    unseen = digits_split(len(images), seed=0)[0][:60]
    page, truth = make_page(unseen, images, targets, seed=4, columns=10)
    pipe = Pipeline(source=ListSource([Frame(index=0, source="page", image=page)]), detect=[("blobs", {**BLOB_PARAMS, "label": "digit"})],
                    recognize=[("keras-classifier", {"model": str(models / "semi.keras")})])
    with pipe:
        record = next(iter(pipe.records()))
    score = score_page(truth, list(record.detections), list(record.recognitions))
    # Measured (seed 0, 300 steps): 59 of the 60 read right, from 30 labelled crops (chance 0.1).
    assert score["reading_accuracy"] >= 0.85, score


def test_acgan_augmentation_writes_its_grid_and_draws_recognisable_digits(digits16, tmp_path):
    from sklearn.svm import SVC

    from drid.recognize.semi import ACGAN, ACGANConfig, sample_grid

    x, y = digits16
    test, lab, unl = fixed_split(y, per_class=10, n_unlabelled=600)
    gan = ACGAN.train(x[lab], y[lab], 10, x[unl], ACGANConfig(steps=400, batch_size=32), seed=0)
    samples, labels, passed = gan.sample(20, seed=0)
    assert samples.shape[1:] == (16, 16, 1) and 0 <= samples.min() and samples.max() <= 255
    # A judge fitted on real digits it never shares with the GAN (the held-out ones) reads the
    # samples as the class they were drawn for far above chance (0.1). Measured (seed 0, 400
    # steps, 100 labelled + 600 unlabelled digits): 0.98 of the kept samples, 87.5 % kept.
    judge = SVC(gamma="scale").fit(x[test].reshape(len(test), -1) / 255.0, y[test])
    read = float((judge.predict(samples.reshape(len(samples), -1) / 255.0) == labels).mean())
    assert read >= 0.8, read
    assert 0.5 <= passed <= 1.0 and len(samples) == 200 and np.bincount(labels, minlength=10).tolist() == [20] * 10
    grid = sample_grid(gan, [str(k) for k in range(10)], tmp_path / "grid.png", per_class=8)
    image = cv2.imread(str(grid))
    assert image is not None and image.shape[0] > 10 * 16 and image.shape[1] > 8 * 16


def test_cli_refuses_bad_semi_options_with_one_line(harvested, tmp_path, capsys):
    crops, _ = harvested
    cases = [
        (["--method", "fixmatch"], "pass --unlabeled DIR"),
        (["--unlabeled", str(tmp_path / "nowhere")], "unlabelled folder not found"),
        (["--unlabeled", str(crops)], "is the labelled dataset itself"),
        (["--unlabeled", str(tmp_path)], "has no readable images"),
        (["--augment", "acgan", "--backbone", "MobileNetV2", "--weights", "none"], "drop --backbone"),
    ]
    for extra, message in cases:
        assert main(["train", "classifier", str(crops), "--out", str(tmp_path / "m"), "--no-progress", *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (extra, err)
    with pytest.raises(SystemExit):
        main(["train", "classifier", str(crops), "--augment", "gan"])
    assert "invalid choice: 'gan'" in capsys.readouterr().err
