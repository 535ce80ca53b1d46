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
    from drid.recognize.semi import ACGANConfig, FixMatchConfig
    from drid.recognize.train import METHODS

    p = subparsers.add_parser(
        "classifier",
        help="train an image classifier for keras-classifier",
        description="Train an image classifier from an image folder (one sub-folder per class, e.g. crops written by the "
                    "'harvest' sink) and write NAME.keras, NAME.labels.txt, NAME.json, a model card and PNG plots.",
        epilog="from video to a recognizer:\n"
               "  1. harvest crops: a pipeline with sinks: [{plugin: harvest, params: {path: out/crops, label_from: none}}]\n"
               "  2. sort out/crops/unlabeled/*.png into one folder per class by eye (out/crops/car, out/crops/person, ...)\n"
               "  3. drid train classifier out/crops --out out/models --name street --flip --group-frames 5\n"
               "  4. recognize: [{plugin: keras-classifier, params: {model: out/models/street.keras}}]\n"
               "semi-supervised: sort only a few crops per class and learn from the rest too (docs/semi-supervised.md):\n"
               "  drid train classifier out/crops --unlabeled out/crops/unlabeled --out out/models --name street\n"
               "  drid train classifier out/crops --unlabeled out/crops/unlabeled --augment acgan   (writes NAME.acgan.png)",
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
    semi = p.add_argument_group("semi-supervised (few labels, many unlabelled images)")
    semi.add_argument("--unlabeled", metavar="DIR", help="folder of unlabelled images (any depth), e.g. a harvest's unlabeled/; "
                      "inside DATA it is not taken for a class")
    semi.add_argument("--method", choices=list(METHODS), help="supervised (labels only) or fixmatch (pseudo-labels with weak/strong "
                      "consistency; default with --unlabeled)")
    semi.add_argument("--augment", choices=["acgan"], dest="augment_with", help="acgan: train an auxiliary-classifier GAN on the "
                      "training images (and --unlabeled) and add its samples per class to training")
    semi.add_argument("--steps", type=positive_int, default=FixMatchConfig.steps,
                      help=f"training steps of fixmatch / acgan-augmented training, instead of --epochs (default: {FixMatchConfig.steps})")
    semi.add_argument("--supervised-steps", type=int, default=None, metavar="N",
                      help=f"fixmatch: steps on labels only before the unlabelled loss starts (default: a sixth of --steps, at most {FixMatchConfig.supervised_steps})")
    semi.add_argument("--threshold", type=fraction, default=FixMatchConfig.threshold,
                      help=f"fixmatch: confidence a pseudo-label needs (default: {FixMatchConfig.threshold})")
    semi.add_argument("--unlabeled-ratio", type=positive_int, default=FixMatchConfig.unlabelled_ratio, metavar="MU",
                      help=f"fixmatch: unlabelled images per labelled one in a batch (default: {FixMatchConfig.unlabelled_ratio})")
    semi.add_argument("--acgan-steps", type=positive_int, default=ACGANConfig.steps, help=f"AC-GAN training steps (default: {ACGANConfig.steps})")
    semi.add_argument("--acgan-samples", type=positive_int, default=200, metavar="N", help="generated images kept per class (default: 200)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drid.errors import ConfigError
    from drid.recognize.semi import ACGANConfig, FixMatchConfig

    if not Path(args.data).is_dir():  # before TensorFlow loads (seconds)
        raise ConfigError(f"dataset folder not found: '{args.data}'" if not Path(args.data).exists() else
                          f"'{args.data}' is not a folder (expected one sub-folder of images per class)", path="data")
    if args.unlabeled is not None and not Path(args.unlabeled).is_dir():
        raise ConfigError(f"unlabelled folder not found: '{args.unlabeled}'" if not Path(args.unlabeled).exists() else
                          f"'{args.unlabeled}' is not a folder of images", path="--unlabeled")
    if args.method == "fixmatch" and args.unlabeled is None:
        raise ConfigError("--method fixmatch learns from unlabelled images: pass --unlabeled DIR", path="--method")
    supervised_steps = args.supervised_steps if args.supervised_steps is not None else min(FixMatchConfig.supervised_steps, args.steps // 6)
    if not 0 <= supervised_steps <= args.steps:
        raise ConfigError(f"--supervised-steps must be between 0 and --steps ({args.steps}), got {supervised_steps}", path="--supervised-steps")
    from drid.recognize.train import train_classifier

    fixmatch = FixMatchConfig(steps=args.steps, supervised_steps=supervised_steps, batch_size=args.batch_size, unlabelled_ratio=args.unlabeled_ratio,
                              threshold=args.threshold, learning_rate=args.learning_rate, flip=args.flip,
                              evaluate_every=max(1, args.steps // 30))
    acgan = ACGANConfig(steps=args.acgan_steps)
    command = "drid train classifier " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["train", "classifier"] else ""
    result = train_classifier(
        args.data, args.out, name=args.name, size=args.size, channels=args.channels, aspect=args.aspect, padding=args.padding,
        backbone=args.backbone, weights=args.weights, unfreeze=args.unfreeze, epochs=args.epochs, patience=args.patience,
        batch_size=args.batch_size, learning_rate=args.learning_rate, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        flip=args.flip, augment=not args.no_augment, balance=not args.no_balance, group_frames=args.group_frames, batch_norm=not args.no_batch_norm, seed=args.seed, provenance=args.provenance, progress=not args.no_progress,
        command=command, unlabeled=args.unlabeled, method=args.method, augment_with=args.augment_with, fixmatch=fixmatch, acgan=acgan,
        acgan_per_class=args.acgan_samples,
    )
    t = result.training
    if t.get("method") != "supervised" or "acgan" in t:
        start = t.get("supervised_start")
        print(f"{t['method']}{' + AC-GAN samples' if 'acgan' in t else ''}: {t['labelled']} labelled, {t['unlabelled']} unlabelled images"
              + (f"; validation accuracy of the supervised start {start['validation_accuracy']:.4f}" if start else ""))
    run = f"{t['steps']['steps']} steps" if "steps" in t else f"{result.epochs} epochs"
    print(f"held-out accuracy {result.test_accuracy:.4f} (validation {result.val_accuracy:.4f}, {run}, split {result.split})")
    for cls, v in result.per_class.items():
        print(f"  {cls:<16} precision {v['precision']:.3f}  recall {v['recall']:.3f}  n={v['support']}")
    extra = f", {result.samples_png.name}" if result.samples_png is not None else ""
    print(f"wrote {result.model_path}, {result.labels_path.name}, {result.card_path.name}, {result.confusion_png.name}, {result.curves_png.name}{extra}")
    return 0
