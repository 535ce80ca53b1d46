"""Rebuild the bundled ``digits`` model (drid/recognize/models/digits.*) from scikit-learn's bundled digits.

    .venv/bin/python scripts/make_digits_model.py [--out drid/recognize/models] [--work out/digits-build]

Fixed seeds throughout. 80% of the 1,797 digits (``drid.demos.digits.digits_split``) are drawn as
page-like crops: each digit is rendered as dark ink on white at a random size, found with the
``blobs`` detector's own function and cut with the plugin's own crop function, so training sees
exactly what the pipeline will. ``drid train classifier``'s code then splits them (per class,
seed 0) into train / validation / held-out test. The other 20% never touch training: they are
composed onto a page and read by the full blobs → keras-classifier pipeline, and that score is
appended to the model card too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from drid.demos.digits import BLOB_PARAMS, CROP_PADDING, digits_split, load_digits, make_page, page_indices, render_digit, score_page
from drid.detect.blobs import find_blobs
from drid.recognize.crops import crop_box
from drid.schemas import BoundingBox, Frame
from drid.testing import ListSource

SEED = 0


def write_crops(folder: Path, indices: np.ndarray, images: np.ndarray, targets: np.ndarray, seed: int) -> int:
    rng = np.random.default_rng(seed)
    for k in range(10):
        (folder / str(k)).mkdir(parents=True, exist_ok=True)
    for idx in indices:
        scale = int(rng.integers(3, 6))
        glyph = render_digit(images[idx], scale=scale, paper=int(rng.integers(225, 250)), ink=int(rng.integers(20, 70)))
        canvas = np.pad(glyph, 12, constant_values=int(glyph[0, 0]))
        canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
        blobs = find_blobs(canvas, **BLOB_PARAMS)
        if not blobs:
            continue
        box = BoundingBox(x1=min(b.x1 for b, _ in blobs), y1=min(b.y1 for b, _ in blobs), x2=max(b.x2 for b, _ in blobs), y2=max(b.y2 for b, _ in blobs))
        crop = crop_box(canvas, box, padding=CROP_PADDING, aspect=1.0)
        cv2.imwrite(str(folder / str(int(targets[idx])) / f"digit{int(idx):04d}.png"), crop)
    return len(indices)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--out", default="drid/recognize/models", help="where the bundle goes (default: drid/recognize/models)")
    parser.add_argument("--work", default="out/digits-build", help="scratch folder for crops and plots")
    args = parser.parse_args()

    from drid.recognize.bundle import copy_bundle
    from drid.recognize.train import train_classifier

    images, targets = load_digits()
    train_ids, page_ids = digits_split(len(images), seed=SEED)
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    data = work / "crops"
    write_crops(data, train_ids, images, targets, SEED)
    result = train_classifier(
        data, work / "model", name="digits", size=(28, 28), channels=1, aspect="expand", padding=CROP_PADDING,
        epochs=60, patience=8, batch_size=64, learning_rate=3e-3, val_fraction=0.15, test_fraction=0.15, flip=False,
        seed=SEED, filters=(16, 32, 64), dropout=0.3,
        provenance=(f"scikit-learn's bundled digits (sklearn.datasets.load_digits: UCI optdigits, 8x8 scans of digits by 43 writers); "
                    f"{len(train_ids)} of {len(images)} digits (drid.demos.digits.digits_split, seed {SEED}), rendered dark-on-light "
                    f"at 24-40 px and cropped by the blobs detector + keras-classifier crop function; the other {len(page_ids)} are "
                    "reserved for pages"),
        command="python scripts/make_digits_model.py",
    )
    print(f"held-out test accuracy {result.test_accuracy:.4f}, validation {result.val_accuracy:.4f}, epochs {result.epochs}")

    # The reserved digits on a page, through the full pipeline with the new model.
    from drid.pipeline import Pipeline

    page, truth = make_page(page_indices(120, seed=SEED), images, targets, seed=SEED)
    pipe = Pipeline(source=ListSource([Frame(index=0, source="page", image=page)]), detect=[("blobs", {**BLOB_PARAMS, "label": "digit"})],
                    recognize=[("keras-classifier", {"model": str(result.model_path)})])
    with pipe:
        record = next(iter(pipe.records()))
    score = score_page(truth, list(record.detections), list(record.recognitions))
    print(f"page of {score['digits']} reserved digits: {score['found']} found, {score['read_correctly']} read correctly")

    meta_path = result.model_path.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["page_test"] = score
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    with result.card_path.open("a", encoding="utf-8") as card:
        card.write(
            "\n## Page test (digits never used in training)\n\n"
            f"{score['digits']} of the reserved digits composed onto a page (`drid.demos.digits.make_page`, seed {SEED}), "
            f"detected by `blobs` and read by this model through `keras-classifier`: {score['found']} found, "
            f"{score['read_correctly']} read correctly (**{score['reading_accuracy']:.1%}** of all digits, "
            f"{score['accuracy_of_found']:.1%} of those found).\n"
        )
    bundle = copy_bundle(result.model_path, Path(args.out), "digits")
    print(f"wrote {bundle} ({bundle.stat().st_size / 1024:.0f} KB) with labels, metadata and card; "
          f"plots in {result.confusion_png.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
