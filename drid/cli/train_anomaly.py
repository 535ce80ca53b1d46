"""``drid train anomaly``: learn what normal looks like from defect-free images only (the command
line of :func:`drid.detect.anomaly.train.train_anomaly`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from drid.cli._args import positive_int


def _fpr(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a rate such as 0.05, got '{text}'") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {v}")
    return v


def _window(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of feature cells, got '{text}'") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {v}")
    return v


def register(subparsers: Any) -> None:
    """Add ``drid train anomaly``."""
    from drid.detect.anomaly.train import DEFAULTS  # NumPy only; TensorFlow loads when a model trains

    p = subparsers.add_parser(
        "anomaly",
        help="train an anomaly model on normal images only (for the anomaly detector)",
        description="Learn what normal looks like from defect-free images (a folder, an MVTec AD category folder whose train/good is "
                    "used, or texture:NAME, a texture set drid generates: texture:brick, texture:grass, texture:gravel); hold out a "
                    "share to calibrate the threshold at a chosen false-positive rate; write NAME.keras, NAME.json (threshold), "
                    "NAME.npz (PaDiM statistics or PatchCore memory) and a model card.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  drid train anomaly texture:brick --name brick\n"
               "  drid train anomaly texture:grass --model patchcore --name grass\n"
               "  drid train anomaly path/to/mvtec/carpet --model ssim-ae --size 256\n"
               "  drid eval anomaly out/models/brick.keras texture:brick\n"
               "  detect: [{plugin: anomaly, params: {model: out/models/brick.keras, full_map: true}}]",
    )
    p.add_argument("data", help="folder of normal images, an MVTec AD category folder, or texture:NAME")
    p.add_argument("--model", choices=["padim", "patchcore", "ssim-ae"], default="padim",
                   help="padim: Gaussian statistics of CNN features (default); patchcore: nearest neighbours in a memory of normal CNN features; "
                        "ssim-ae: autoencoder with SSIM loss")
    p.add_argument("--backbone", default="random", help="padim features: random (default), file:PATH (your .keras), keras:NAME (keras.applications, e.g. keras:ResNet50)")
    p.add_argument("--weights", default="imagenet", help="keras: backbone weights: imagenet (downloaded once by Keras) or a weights file")
    p.add_argument("--statistics", choices=["shared", "per-location"], default="shared", help="padim: one Gaussian for every position (textures) or one per position (aligned objects)")
    p.add_argument("--size", type=positive_int, default=128, help="images are resized to SIZE x SIZE (default: 128)")
    p.add_argument("--dims", type=positive_int, default=DEFAULTS["dims"], help=f"padim: feature channels kept (default: {DEFAULTS['dims']})")
    p.add_argument("--texture-window", type=_window, default=DEFAULTS["texture_window"],
                   help=f"padim: each kept channel's local mean and std over WINDOW x WINDOW feature cells join the features (0: features alone; default: {DEFAULTS['texture_window']})")
    p.add_argument("--memory", type=positive_int, default=DEFAULTS["memory"],
                   help=f"patchcore: feature vectors kept in the memory, chosen by greedy coreset selection (default: {DEFAULTS['memory']})")
    p.add_argument("--pool", type=positive_int, default=DEFAULTS["pool"],
                   help=f"patchcore: random training cells the coreset is chosen from (default: {DEFAULTS['pool']})")
    p.add_argument("--neighbours", type=positive_int, default=DEFAULTS["neighbours"],
                   help=f"patchcore: a cell's score is its mean distance to this many nearest memory vectors (default: {DEFAULTS['neighbours']})")
    p.add_argument("--epochs", type=positive_int, default=40, help="ssim-ae: training epochs (default: 40)")
    p.add_argument("--fpr", type=_fpr, default=0.05, help="share of held-out normal images allowed to raise a region (default: 0.05)")
    p.add_argument("--calibration-fraction", type=_fpr, default=0.2, help="share of the normal images held out for calibration (default: 0.2)")
    p.add_argument("--out", default="out/models", help="output folder (default: out/models)")
    p.add_argument("--name", default="anomaly", help="file name stem (default: anomaly)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--provenance", default="", help="where the data came from, for the model card")
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from drid.detect.anomaly.data import TEXTURE_PREFIX, normal_folder
    from drid.errors import ConfigError

    if not args.data.startswith(TEXTURE_PREFIX):
        try:
            normal_folder(args.data)  # before TensorFlow loads (seconds)
        except ValueError as exc:
            raise ConfigError(str(exc), path="data") from None
    if args.model == "ssim-ae" and args.size % 16:
        raise ConfigError(f"the autoencoder needs a size that is a multiple of 16, got {args.size}", path="--size")
    from drid.detect.anomaly.train import train_anomaly

    command = "drid train anomaly " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["train", "anomaly"] else ""
    try:
        result = train_anomaly(args.data, args.out, name=args.name, kind=args.model, backbone=args.backbone, weights=args.weights, size=args.size,
                               dims=args.dims, texture_window=args.texture_window, statistics=args.statistics, epochs=args.epochs, fpr=args.fpr,
                               memory=args.memory, pool=args.pool, neighbours=args.neighbours,
                               calibration_fraction=args.calibration_fraction, seed=args.seed, provenance=args.provenance or args.data,
                               command=command, verbose=2)
    except ValueError as exc:
        where = "--backbone" if "backbone" in str(exc) or "weights" in str(exc) else "--memory" if "PatchCore" in str(exc) else "data"
        raise ConfigError(str(exc), path=where) from None
    print(f"trained {args.model} on {result.n_train} normal images in {result.train_seconds:.1f} s; threshold {result.threshold:.4g} "
          f"at {args.fpr:g} image-level false-positive rate on {result.n_calibration} held-out images")
    print(f"wrote {result.model_path} and its .json{', .npz' if args.model != 'ssim-ae' else ''}, .card.md")
    return 0
