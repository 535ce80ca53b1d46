"""``drid train classifier``: train an image classifier for the ``keras-classifier`` plugin
(the command line of :func:`drid.recognize.train.train_classifier`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from drid.cli._args import fraction, positive_int, size


def register(subparsers: Any) -> None:
    """Add ``drid train classifier``."""
    from drid.recognize.classifier import APPLICATIONS

    p = subparsers.add_parser(
        "classifier",
        help="train an image classifier for keras-classifier",
        description="Train an image classifier from an image folder (one sub-folder per class, e.g. crops written by the "
                    "'harvest' sink) and write NAME.keras, NAME.labels.txt, NAME.json, a model card and PNG plots.",
        epilog="from video to a recognizer:\n"
               "  1. harvest crops: a pipeline with sinks: [{plugin: harvest, params: {path: out/crops, label_from: none}}]\n"
               "  2. sort out/crops/unlabeled/*.png into one folder per class by eye (out/crops/car, out/crops/person, ...)\n"
               "  3. drid train classifier out/crops --out out/models --name street --flip --group-frames 5\n"
               "  4. recognize: [{plugin: keras-classifier, params: {model: out/models/street.keras}}]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("data", help="dataset folder: one sub-folder of images per class")
    p.add_argument("--out", default="out/models", help="output folder (default: out/models)")
    p.add_argument("--name", default="classifier", help="file name stem of the model bundle (default: classifier)")
    p.add_argument("--size", type=size, default=(32, 32), metavar="WxH", help="model input size (default: 32)")
    p.add_argument("--channels", type=int, choices=[1, 3], default=3, help="1 for grey, 3 for colour (default: 3)")
    p.add_argument("--aspect", choices=["expand", "letterbox", "stretch"], default="expand", help="how images are fitted to the input size")
    p.add_argument("--padding", type=float, default=None, help="crop padding the plugin should use (default: the harvest's, else 0.1)")
    p.add_argument("--backbone", choices=sorted(APPLICATIONS), metavar="NAME", help=f"fine-tune a keras.applications backbone instead of the small CNN: {', '.join(sorted(APPLICATIONS))}")
    p.add_argument("--weights", default="imagenet", help="backbone weights: imagenet, none or a file (default: imagenet)")
    p.add_argument("--unfreeze", type=int, default=0, metavar="N", help="after training the head, also train the backbone's last N layers")
    p.add_argument("--epochs", type=positive_int, default=30, help="at most this many epochs (default: 30)")
    p.add_argument("--patience", type=positive_int, default=5, help="early stopping patience in epochs (default: 5)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="(default: 32)")
    p.add_argument("--learning-rate", type=float, default=3e-3, help="Adam's initial learning rate, halved when validation loss stalls (default: 0.003)")
    p.add_argument("--val-fraction", type=fraction, default=0.15, help="share of each class for early stopping (default: 0.15)")
    p.add_argument("--test-fraction", type=fraction, default=0.15, help="share of each class held out for the final score (default: 0.15)")
    p.add_argument("--flip", action="store_true", help="augment with horizontal flips (not for digits or text)")
    p.add_argument("--no-augment", action="store_true", help="no augmentation (shifts, zoom, rotation, contrast, brightness)")
    p.add_argument("--no-batch-norm", action="store_true", help="small CNN without batch normalisation layers")
    p.add_argument("--no-balance", action="store_true", help="do not weight classes by inverse frequency")
    p.add_argument("--group-frames", type=int, default=0, metavar="N",
                   help="harvested crops: keep crops from the same N-frame block of a video on one side of the split")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the augmentation (default: 0)")
    p.add_argument("--provenance", default="", help="where the data came from, for the model card")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drid.errors import ConfigError

    if not Path(args.data).is_dir():  # before TensorFlow loads (seconds)
        raise ConfigError(f"dataset folder not found: '{args.data}'" if not Path(args.data).exists() else
                          f"'{args.data}' is not a folder (expected one sub-folder of images per class)", path="data")
    from drid.recognize.train import train_classifier

    command = "drid train classifier " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["train", "classifier"] else ""
    result = train_classifier(
        args.data, args.out, name=args.name, size=args.size, channels=args.channels, aspect=args.aspect, padding=args.padding,
        backbone=args.backbone, weights=args.weights, unfreeze=args.unfreeze, epochs=args.epochs, patience=args.patience,
        batch_size=args.batch_size, learning_rate=args.learning_rate, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        flip=args.flip, augment=not args.no_augment, balance=not args.no_balance, group_frames=args.group_frames, batch_norm=not args.no_batch_norm, seed=args.seed, provenance=args.provenance, progress=not args.no_progress,
        command=command,
    )
    print(f"held-out accuracy {result.test_accuracy:.4f} (validation {result.val_accuracy:.4f}, {result.epochs} epochs, split {result.split})")
    for cls, v in result.per_class.items():
        print(f"  {cls:<16} precision {v['precision']:.3f}  recall {v['recall']:.3f}  n={v['support']}")
    print(f"wrote {result.model_path}, {result.labels_path.name}, {result.card_path.name}, {result.confusion_png.name}, {result.curves_png.name}")
    return 0
