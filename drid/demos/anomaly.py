"""``drid demo anomaly``: learn what a normal brick wall looks like, then find defects on it.

scikit-image's brick photograph is cut into normal training images (its top rows) and test images
(its bottom rows, never seen in training), a quarter of them left good and the rest given a
synthetic scratch, hole, stain or pasted foreign texture (:mod:`drid.detect.anomaly.textures`).
A PaDiM-style model (Gaussian statistics of random convolutional features: no training, no
download) is fitted to the normal images in seconds and its threshold calibrated on held-out
normal ones; then a real pipeline runs over the test images — ``images`` source, ``anomaly``
detector, ``frames`` sink drawing each region's heat map — and the demo writes a grid of every
test image beside its full heat map (true defect outlined green, detected regions red) and its
image and pixel AUROC (scikit-learn's ``roc_auc_score``). With PATH, the model is fitted to the
normal images of PATH (a folder or an MVTec AD category folder) instead and runs on PATH's test images when it has some.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

#: The demo's texture and set sizes: small enough for seconds on two cores.
TEXTURE = "brick"
SET: dict[str, Any] = {"n_train": 80, "n_calibration": 20, "n_good": 4, "n_per_kind": 3}


def run_anomaly_demo(path: str | None = None, out: Path = Path("out"), max_frames: int | None = None) -> int:
    """Fit, calibrate, run the pipeline over the test images, draw the grid, print the AUROC."""
    from sklearn.metrics import roc_auc_score

    from drid.detect.anomaly.data import load_mvtec_test, read_images
    from drid.detect.anomaly.show import grid, outcome_image
    from drid.detect.anomaly.textures import texture_set
    from drid.detect.anomaly.train import train_anomaly
    from drid.pipeline import Pipeline

    target = out / "demo-anomaly"
    (target / "test").mkdir(parents=True, exist_ok=True)
    if path is None:
        data = texture_set(TEXTURE, **SET)
        normal: Any = np.concatenate([data.train, data.calibration])
        images, masks, kinds = list(data.test.images), list(data.test.masks), list(data.test.kinds)
        source = f"scikit-image's {TEXTURE}.png"
    else:
        from drid.demos.data import checked_input

        checked = checked_input(path, "anomaly")
        normal = read_images(checked)
        try:
            test = load_mvtec_test(checked)
            images, masks, kinds = test.images, test.masks, test.kinds
        except ValueError:
            images, masks, kinds = list(normal[:8]), [np.zeros(im.shape[:2], bool) for im in normal[:8]], ["good"] * min(8, len(normal))
        source = checked
    result = train_anomaly(normal, target, name="model", provenance=source)
    model = result.model
    print(f"fitted {model.kind} to {result.n_train} normal images of {source} in {result.train_seconds:.1f} s; "
          f"threshold calibrated on {result.n_calibration} held-out normal images")
    files = []
    for i, image in enumerate(images):
        files.append(target / "test" / f"{i:03d}_{kinds[i]}.png")
        cv2.imwrite(str(files[-1]), image)
    pipe = Pipeline(
        name="demo-anomaly",
        source=("images", {"path": str(target / "test")}),
        detect=[("anomaly", {"model": str(result.model_path)})],
        sinks=[("jsonl", {"path": str(target / "records.jsonl")}), ("frames", {"path": str(target / "annotated"), "every": 1})],
        max_frames=max_frames,
    )
    with pipe:
        records = list(pipe.records())
    print(pipe.summary.table())
    found = {rec.frame.index: len(rec.detections) for rec in records}
    raw = model.maps(images)
    tiles, captions = [], []
    for i, image in enumerate(images):
        tiles.append(outcome_image(image, raw[i], masks[i], model.threshold))
        captions.append(f"{kinds[i]}: {found.get(i, 0)} region(s)")
    cv2.imwrite(str(target / "grid.png"), grid(tiles, 4, captions))
    labels = np.array([k != "good" for k in kinds])
    score: dict[str, Any] = {"images": len(images), "defective": int(labels.sum())}
    if 0 < labels.sum() < len(labels):
        size = raw.shape[1:]
        small = np.stack([cv2.resize(m.astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_NEAREST) for m in masks]) > 0
        score["image_auroc"] = float(roc_auc_score(labels, raw.reshape(len(raw), -1).max(axis=1)))
        score["pixel_auroc"] = float(roc_auc_score(small.ravel(), raw.ravel()))
        flagged = np.array([found.get(i, 0) > 0 for i in range(len(images))])
        print(f"image AUROC {score['image_auroc']:.3f}, pixel AUROC {score['pixel_auroc']:.3f} on {len(images)} test images; "
              f"regions on {flagged[labels].sum()} of {labels.sum()} defective and {flagged[~labels].sum()} of {(~labels).sum()} good images")
    (target / "score.json").write_text(json.dumps(score, indent=2), encoding="utf-8")
    print(f"wrote {target / 'grid.png'}, {target / 'annotated'}/, {target / 'records.jsonl'} and the model {result.model_path}")
    return 0 if pipe.summary.error is None else 1
