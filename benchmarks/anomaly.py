"""Anomaly localization on the texture defect sets: image AUROC, pixel AUROC and PRO of the
PaDiM-style model, the PatchCore-style memory and the SSIM autoencoder, per texture, with training
time (fitting, without calibration) and scoring time per image.

The baseline measured in the same run is the simplest per-pixel detector a user would write by
hand: the absolute difference of each pixel's local mean (Gaussian, σ 4) from the training
images' mean grey level, normalised by their standard deviation ("brightness z-score"). A model
that does not beat it has learned nothing about texture.

    nice -n 10 .venv/bin/python benchmarks/anomaly.py                 # every texture, every model (minutes)
    nice -n 10 .venv/bin/python benchmarks/anomaly.py --models padim patchcore
    nice -n 10 .venv/bin/python benchmarks/anomaly.py --textures brick --models padim --epochs 5
    nice -n 10 .venv/bin/python benchmarks/anomaly.py --models padim --dims 100 --texture-window 0   # PaDiM's features alone
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import cv2
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def brightness_baseline(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    mean, std = float(train.mean()), float(train.std()) + 1e-6
    return np.stack([np.abs(cv2.GaussianBlur(im.astype(np.float32), (0, 0), 4.0) - mean) / std for im in test])


def main(argv: list[str] | None = None) -> int:
    from drid.detect.anomaly.model import KINDS
    from drid.detect.anomaly.textures import texture_names, texture_set
    from drid.detect.anomaly.train import DEFAULTS, train_anomaly
    from drid.eval.anomaly import evaluate_maps

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--textures", nargs="*", default=texture_names())
    ap.add_argument("--models", nargs="*", default=list(KINDS), choices=list(KINDS))
    ap.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="autoencoder epochs")
    ap.add_argument("--dims", type=int, default=DEFAULTS["dims"], help="padim: feature channels kept")
    ap.add_argument("--texture-window", type=int, default=DEFAULTS["texture_window"],
                    help="padim: window (cells) of the local texture statistics added to each channel; 0: the features alone")
    ap.add_argument("--memory", type=int, default=DEFAULTS["memory"], help="patchcore: memory vectors (greedy coreset)")
    ap.add_argument("--pool", type=int, default=DEFAULTS["pool"], help="patchcore: random training cells the coreset is chosen from")
    ap.add_argument("--neighbours", type=int, default=DEFAULTS["neighbours"], help="patchcore: nearest memory vectors averaged")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rows = []
    for name in args.textures:
        data = texture_set(name, seed=args.seed)
        test = data.test
        base = evaluate_maps(brightness_baseline(data.train, test.images), test.masks, test.kinds, name=name)
        rows.append({"texture": name, "model": "brightness z-score", "image_auroc": base.image_auroc, "pixel_auroc": base.pixel_auroc,
                     "pro": base.pro, "train_s": 0.0, "infer_ms": 0.0})
        for kind in args.models:
            normal = np.concatenate([data.train, data.calibration])
            result = train_anomaly(normal, None, kind=kind, epochs=args.epochs, seed=args.seed, dims=args.dims,
                                   texture_window=args.texture_window, memory=args.memory, pool=args.pool, neighbours=args.neighbours)
            start = time.perf_counter()
            maps = result.model.maps(test.images)
            infer = (time.perf_counter() - start) / len(test.images) * 1000
            rep = evaluate_maps(maps, test.masks, test.kinds, name=f"{name} {kind}")
            rows.append({"texture": name, "model": kind, "image_auroc": rep.image_auroc, "pixel_auroc": rep.pixel_auroc, "pro": rep.pro,
                         "train_s": result.train_seconds, "infer_ms": infer,
                         "per_kind_pixel_auroc": {k: round(v["pixel_auroc"], 3) for k, v in rep.per_kind.items()}})
            print(f"{name:<8} {kind:<9} image {rep.image_auroc:.3f} pixel {rep.pixel_auroc:.3f} PRO {rep.pro:.3f} "
                  f"train {result.train_seconds:.1f} s, {infer:.0f} ms/image  ({', '.join(f'{k} {v:.3f}' for k, v in rows[-1]['per_kind_pixel_auroc'].items())})",
                  file=sys.stderr, flush=True)
    print(f"\n{'texture':<8} {'model':<19} {'image AUROC':>11} {'pixel AUROC':>11} {'PRO':>6} {'vs baseline (pixel)':>19} {'train s':>8} {'ms/image':>8}")
    baseline = {r["texture"]: r["pixel_auroc"] for r in rows if r["model"] == "brightness z-score"}
    for r in rows:
        ratio = r["pixel_auroc"] / baseline[r["texture"]]
        print(f"{r['texture']:<8} {r['model']:<19} {r['image_auroc']:>11.3f} {r['pixel_auroc']:>11.3f} {r['pro']:>6.3f} {ratio:>18.2f}x "
              f"{r['train_s']:>8.1f} {r['infer_ms']:>8.1f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
