"""drid train classifier: a small real dataset (scikit-learn's digits, as image files) trains to a
stated held-out accuracy with a fixed seed; the bundle it writes loads in the plugin; harvested
crops come back as a dataset the trainer reads."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import pytest

from drid.cli import main
from drid.demos.digits import BLOB_PARAMS, load_digits, make_page, page_indices, render_digit
from drid.errors import ConfigError
from drid.pipeline import Pipeline
from drid.schemas import Frame
from drid.testing import ListSource


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory) -> Path:
    """600 real handwritten digits (60 per class) as 16×16 PNGs, one folder per class."""
    root = tmp_path_factory.mktemp("digits")
    images, targets = load_digits()
    for k in range(10):
        (root / str(k)).mkdir()
        for idx in np.flatnonzero(targets == k)[:60]:
            cv2.imwrite(str(root / str(k) / f"{idx}.png"), render_digit(images[idx], scale=2))
    return root


def test_training_reaches_the_stated_held_out_accuracy(digit_folder, tmp_path):
    from drid.recognize.train import train_classifier

    result = train_classifier(digit_folder, tmp_path, name="tiny", size=(16, 16), channels=1, epochs=12, patience=5,
                              batch_size=32, learning_rate=1e-2, filters=(16, 32, 64), augment=False, seed=0, progress=False)
    # Stated: with seed 0, at least 90% of the 90 held-out digits (15%) right; measured 0.97 (10 epochs)
    # and 1.0 (15 epochs) on the development machine.
    assert result.split == {"train": 420, "validation": 90, "test": 90}
    assert result.test_accuracy >= 0.90, result.test_accuracy
    assert sum(map(sum, result.confusion)) == 90
    assert set(result.per_class) == {str(k) for k in range(10)}
    for path in (result.model_path, result.labels_path, result.card_path, result.confusion_png, result.curves_png):
        assert path.is_file() and path.stat().st_size > 0
    assert result.model_path.stat().st_size < 200_000
    card = result.card_path.read_text()
    assert "Held-out test accuracy" in card and f"{result.test_accuracy:.4f}" in card and "Created:" in card
    meta = json.loads(result.model_path.with_suffix(".json").read_text())
    assert meta["crops"] == {"padding": 0.1, "aspect": "expand"} and meta["labels"] == [str(k) for k in range(10)]
    # The bundle is what the plugin runs: it reads digits it was never trained on.
    from drid.recognize.classifier import KerasClassifier

    images, targets = load_digits()
    unseen = [i for i in range(len(targets)) if i not in {int(p.stem) for p in digit_folder.rglob("*.png")}][:40]
    plugin = KerasClassifier(model=str(result.model_path), padding=0.0, aspect="stretch")
    right = 0
    for i in unseen:
        img = cv2.cvtColor(render_digit(images[i], scale=2), cv2.COLOR_GRAY2BGR)
        from drid.schemas import BoundingBox, Detection

        rec = plugin.classify(Frame(index=0, image=img), [Detection(box=BoundingBox(x1=0, y1=0, x2=16, y2=16), label="digit")])
        right += rec[0].label == str(targets[i])
    assert right >= 34, right  # ≥ 85% of 40 unseen digits


def test_cli_refuses_bad_datasets_with_one_line(tmp_path, capsys):
    (tmp_path / "only").mkdir()
    cv2.imwrite(str(tmp_path / "only" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert main(["train", "classifier", str(tmp_path), "--out", str(tmp_path / "m"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "needs at least two class folders" in err and len(err.strip().splitlines()) == 1
    assert main(["train", "classifier", str(tmp_path / "nowhere"), "--no-progress"]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "classifier", str(tmp_path), "--size", "big"])
    assert "expected a size like 32 or 64x48" in capsys.readouterr().err


def test_harvest_sink_writes_a_dataset_the_trainer_reads(tmp_path):
    from drid.recognize.dataset import load_image_folder

    images, targets = load_digits()
    page, truth = make_page(page_indices(30, seed=2), images, targets, seed=2, columns=10)
    out = tmp_path / "crops"
    pipe = Pipeline(source=ListSource([Frame(index=0, source="pages/page1.png", image=page)]),
                    detect=[("blobs", {**BLOB_PARAMS, "label": "digit"})],
                    recognize=[("keras-classifier", {"model": "digits"})],
                    sinks=[("harvest", {"path": str(out), "label_from": "recognition", "padding": 0.15, "min_size": 4})])
    pipe.run()
    index = [json.loads(line) for line in (out / "crops.jsonl").read_text().splitlines()]
    assert len(index) == 30
    assert all((out / e["file"]).is_file() and e["source"] == "pages/page1.png" and e["detected_as"] == "digit" for e in index)
    crop = cv2.imread(str(out / index[0]["file"]))
    assert crop.shape[0] == crop.shape[1]  # square by default
    info = json.loads((out / "harvest.json").read_text())
    assert info["crops"] == 30 and info["padding"] == 0.15 and info["stages"]["recognize"] == ["keras-classifier"]
    folders = {p.name for p in out.iterdir() if p.is_dir()}
    assert folders <= {str(k) for k in range(10)} and len(folders) >= 5
    enough = sorted(f for f in folders if len(list((out / f).glob("*.png"))) >= 2)
    ds = load_image_folder(out, (28, 28), 1, classes=enough)
    assert len(ds.labels) == sum(len(list((out / f).glob("*.png"))) for f in enough) and ds.provenance["padding"] == 0.15
    # Most folders are right: the harvested labels are the recognizer's reading of real digits.
    truth_by_box = {tuple(t["box"]): t["label"] for t in truth}
    agree = sum(any(abs(e["box"][0] - b[0]) < 3 and abs(e["box"][1] - b[1]) < 3 and lab == e["recognized_as"]
                    for b, lab in truth_by_box.items()) for e in index)
    assert agree >= 27


def test_harvest_only_filter_and_limits(tmp_path):
    images, targets = load_digits()
    page, _ = make_page(page_indices(20, seed=3), images, targets, seed=3, columns=10)
    frames = [Frame(index=i, source="p", image=page) for i in range(4)]
    out = tmp_path / "h"
    pipe = Pipeline(source=ListSource(frames), detect=[("blobs", {**BLOB_PARAMS, "label": "digit"})],
                    sinks=[("harvest", {"path": str(out), "every": 2, "max_crops": 25, "label_from": "none"})])
    pipe.run()
    files = list((out / "unlabeled").glob("*.png"))
    assert len(files) == 25
    assert {f.name.split("_")[1] for f in files} == {"f000000", "f000002"}
    with pytest.raises(ConfigError, match="label_from"):
        Pipeline(source=ListSource(frames), sinks=[("harvest", {"path": str(out), "label_from": "guess"})])


def test_cli_trains_and_writes_the_bundle_the_plugin_loads(digit_folder, tmp_path, capsys):
    out = tmp_path / "models"
    status = main(["train", "classifier", str(digit_folder), "--out", str(out), "--name", "cli", "--size", "16", "--channels", "1",
                   "--epochs", "3", "--learning-rate", "0.01", "--no-augment", "--no-progress", "--provenance", "sklearn digits"])
    assert status == 0
    text = capsys.readouterr().out
    assert "held-out accuracy" in text and "wrote" in text
    assert sorted(p.name for p in out.iterdir()) == ["cli.card.md", "cli.confusion.png", "cli.curves.png", "cli.json", "cli.keras", "cli.labels.txt"]
    assert "Provenance: sklearn digits" in (out / "cli.card.md").read_text()
    from drid.recognize.classifier import KerasClassifier

    assert KerasClassifier(model=str(out / "cli.keras")).load().labels == [str(k) for k in range(10)]


def test_digits_demo_reads_its_page(tmp_path, capsys):
    assert main(["demo", "digits", "--out", str(tmp_path)]) == 0
    score = json.loads((tmp_path / "demo-digits" / "score.json").read_text())
    assert score["digits"] == 120 and score["found"] >= 118 and score["reading_accuracy"] >= 0.95
    annotated = cv2.imread(str(tmp_path / "demo-digits" / "page.annotated.png"))
    page = cv2.imread(str(tmp_path / "demo-digits" / "page.png"))
    assert annotated.shape == page.shape and (annotated != page).any()


def test_grouped_split_keeps_neighbouring_frames_together():
    from drid.recognize.dataset import frame_groups, split_indices

    files = [f"car/bikes_f{f:06d}_d00_t{f // 7}.png" for f in range(100)] + [f"person/bikes_f{f:06d}_d01.png" for f in range(0, 100, 2)]
    labels = np.array([0] * 100 + [1] * 50)
    groups = frame_groups(files, 10)
    train, val, test = split_indices(labels, 0.2, 0.2, seed=3, groups=groups)
    assert len(set(train) | set(val) | set(test)) == 150 and not (set(train) & set(test)) and not (set(train) & set(val))
    for k in (0, 1):
        members = set(np.flatnonzero(labels == k))
        blocks = {side: {groups[i] for i in idx if i in members} for side, idx in (("train", train), ("val", val), ("test", test))}
        assert not (blocks["train"] & blocks["test"]) and not (blocks["train"] & blocks["val"])
    assert len(test) == 30 and len(val) == 30  # whole blocks of 10 car / 5 person crops add up exactly here
    plain = split_indices(labels, 0.2, 0.2, seed=3)
    assert [len(p) for p in plain] == [90, 30, 30]
