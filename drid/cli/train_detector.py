"""``drid train detector``: train drid's own one-stage detector (a CenterNet, ``drid.detect.learned``)
from annotated images, or from unlabelled video with a teacher pipeline (pseudo-labels)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from drid.cli._args import fraction, positive_int, size
from drid.errors import ConfigError


def _mapping(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old.strip() or not new.strip():
        raise argparse.ArgumentTypeError(f"expected TEACHER_LABEL=CLASS, e.g. motion=person, got '{text}'")
    return old.strip(), new.strip()


def _input_size(text: str) -> tuple[int, int]:
    w, h = size(text)
    if w % 32 or h % 32:
        raise argparse.ArgumentTypeError(f"width and height must be multiples of 32 (the network's coarsest stride), got '{text}'")
    return w, h


def register(subparsers: Any) -> None:
    """Add ``drid train detector``."""
    p = subparsers.add_parser(
        "detector",
        help="train drid's learned detector (CenterNet) from annotations or from video with a teacher",
        description="Train a compact one-stage anchor-free detector (CenterNet heads on a depthwise-separable backbone) and write "
                    "NAME.keras (for the 'detector' plugin), NAME.tflite, NAME.json, NAME.labels.txt, a model card and learning curves. "
                    "INPUT is annotated data (a COCO JSON file, a YOLO folder, or a drid ground-truth file), or with --teacher, videos "
                    "to pseudo-label. The split keeps neighbouring video frames on one side (blocks of --block frames, a --gap between); "
                    "the held-out part is scored by COCO AP@0.5 and AP@[.5:.95].",
        epilog="examples:\n"
               "  drid train detector coco/instances.json --out out/models --name shop\n"
               "  drid train detector yolo-dataset/ --size 416x256 --epochs 80\n"
               "  drid train detector --teacher default --map motion=person lobby.mp4 --rounds 2\n"
               "  drid eval detector my-truth.json -d detector -p model=out/models/detector.keras",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="annotations (COCO .json, YOLO folder, drid ground truth .json/.yaml) or, with --teacher, videos")
    p.add_argument("--teacher", metavar="CONFIG", help="label the videos with this pipeline config's detect (and recognize) stages; 'default' is motion + track")
    p.add_argument("--rounds", type=positive_int, default=1, help="with --teacher: train, then label again with the student as the teacher (default: 1)")
    p.add_argument("--map", action="append", type=_mapping, default=[], metavar="OLD=NEW", help="rename a label (teacher's or dataset's), e.g. motion=person")
    p.add_argument("--classes", help="comma-separated classes to learn, in this order (default: every label found)")
    p.add_argument("--images", help="COCO: folder the file names are relative to (default: the JSON's folder)")
    p.add_argument("--min-track", type=positive_int, default=8, help="teacher: frames a track must persist to be kept (default: 8)")
    p.add_argument("--every", type=positive_int, default=1, help="teacher: keep every n-th frame as a sample (default: 1)")
    p.add_argument("--start", type=int, default=0, help="teacher: first frame of each video (default: 0)")
    p.add_argument("--stop", type=positive_int, default=None, help="teacher: frame to stop before (default: the end)")
    p.add_argument("--out", default="out/models", help="output folder (default: out/models)")
    p.add_argument("--name", default="detector", help="file name stem of the bundle (default: detector)")
    p.add_argument("--size", type=_input_size, default=(320, 192), metavar="WxH", help="network input, multiples of 32 (default: 320x192)")
    p.add_argument("--width", type=float, default=1.0, help="channel multiplier of the network (default: 1.0)")
    p.add_argument("--epochs", type=positive_int, default=60, help="at most this many epochs (default: 60)")
    p.add_argument("--steps", type=positive_int, default=None, help="batches per epoch (default: one pass over the training samples)")
    p.add_argument("--patience", type=positive_int, default=8, help="early stopping patience in epochs (default: 8)")
    p.add_argument("--minutes", type=float, default=None, help="stop after this much training time")
    p.add_argument("--batch-size", type=positive_int, default=16, help="(default: 16)")
    p.add_argument("--learning-rate", type=float, default=2e-3, help="Adam's initial learning rate, halved when validation loss stalls (default: 0.002)")
    p.add_argument("--val-fraction", type=fraction, default=0.2, help="share of each video's frame blocks held out (default: 0.2)")
    p.add_argument("--block", type=positive_int, default=50, help="frames per split block (default: 50)")
    p.add_argument("--gap", type=int, default=10, help="training frames this close to a validation frame are left out (default: 10)")
    p.add_argument("--no-augment", action="store_true", help="no augmentation (flips, scale, shift, colour)")
    p.add_argument("--no-flip", action="store_true", help="no horizontal flips (text, left/right-specific objects)")
    p.add_argument("--no-tflite", action="store_true", help="do not export NAME.tflite")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the augmentation (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_command)


def _read(inputs: list[str], args: argparse.Namespace, classes: list[str] | None, label_map: dict[str, str]) -> tuple[list[Any], list[str]]:
    from drid.detect.learned.data import read_coco, read_yolo
    from drid.eval.samples import groundtruth_samples

    samples: list[Any] = []
    for k, item in enumerate(inputs):
        path = Path(item)
        if not path.is_dir() and path.suffix.lower() not in (".json", ".yaml", ".yml"):
            raise ConfigError(f"'{item}' is not annotated data: expected a COCO .json, a YOLO folder or a drid ground-truth .json/.yaml "
                              "(videos need --teacher)", path=f"inputs[{k}]")
        try:
            if path.is_dir():
                got, classes = read_yolo(path, args.size, classes=classes, label_map=label_map)
            elif path.suffix.lower() == ".json" and "images" in (data := json.loads(path.read_text(encoding="utf-8"))) and "annotations" in data:
                got, classes = read_coco(path, args.size, images=args.images, classes=classes, label_map=label_map)
            else:
                got, classes = groundtruth_samples(path, args.size, classes=classes, label_map=label_map)
        except (ValueError, OSError) as exc:
            raise ConfigError(str(exc), path=f"inputs[{k}]", where=item) from None
        samples += got
    return samples, list(classes or [])


def run_command(args: argparse.Namespace) -> int:
    for k, item in enumerate(args.inputs):
        if not Path(item).exists():  # before TensorFlow loads (seconds)
            raise ConfigError(f"{'video' if args.teacher else 'annotation file or folder'} not found: '{item}'", path=f"inputs[{k}]")
    if args.rounds > 1 and not args.teacher:
        raise ConfigError("--rounds needs --teacher (rounds relabel videos with the student)", path="--rounds")
    from drid.detect.learned.data import Augment
    from drid.detect.learned.pseudo import DEFAULT_TEACHER, pseudo_label
    from drid.detect.learned.train import train_detector
    from drid.eval.samples import score_samples

    classes = [c.strip() for c in args.classes.split(",") if c.strip()] if args.classes else None
    label_map = dict(args.map)
    command = "drid train detector " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["train", "detector"] else ""
    augment = Augment.off() if args.no_augment else Augment(flip=not args.no_flip)
    teacher: Any = None
    if args.teacher:
        teacher = DEFAULT_TEACHER if args.teacher == "default" else args.teacher
        if teacher is not DEFAULT_TEACHER and not Path(teacher).is_file():
            raise ConfigError(f"teacher config not found: '{teacher}'", path="--teacher")
    result = None
    for round_ in range(1, args.rounds + 1):
        if teacher is not None:
            try:
                labels = pseudo_label(teacher, args.inputs, args.size, classes=classes, label_map=label_map, min_track=args.min_track,
                                      every=args.every, start=args.start, stop=args.stop, seed=args.seed)
            except ValueError as exc:
                raise ConfigError(str(exc), path="--teacher") from None
            samples, found = labels.samples, labels.classes
            shown = "default (motion + track)" if teacher is DEFAULT_TEACHER else (teacher.get("name") if isinstance(teacher, dict) else teacher)
            print(f"round {round_}: teacher {shown}: "
                  + ", ".join(f"{k} {v}" for k, v in labels.stats.items()), file=sys.stderr)
        else:
            samples, found = _read(args.inputs, args, classes, label_map)
        if not found:
            raise ConfigError("no labels found to learn" + (" (the teacher kept no track: try --min-track lower)" if teacher is not None else ""), path="inputs")
        if not any(len(s.boxes) for s in samples):
            if round_ > 1:
                raise ConfigError(f"round {round_}: the student of round {round_ - 1} kept no persistent track as a teacher "
                                  "(its scores stay under the detector's threshold): train it longer (--epochs, --steps)", path="--rounds")
            raise ConfigError("the data holds no boxes of the classes to learn", path="--classes" if classes else "inputs")
        name = args.name if round_ == args.rounds else f"{args.name}.round{round_}"
        try:
            result = train_detector(samples, found, args.out, name=name, input_size=args.size, width=args.width, epochs=args.epochs,
                                    steps_per_epoch=args.steps, patience=args.patience, batch_size=args.batch_size, learning_rate=args.learning_rate,
                                    val_fraction=args.val_fraction, block=args.block, gap=args.gap, augment=augment, score=score_samples, seed=args.seed,
                                    tflite=not args.no_tflite, progress=not args.no_progress, time_budget_s=args.minutes * 60 if args.minutes else None,
                                    sources=[{"name": str(i), "use": "pseudo-labelled by the teacher" if teacher is not None else "annotations"} for i in args.inputs],
                                    command=command)
        except ValueError as exc:
            raise ConfigError(str(exc), path="inputs") from None
        classes = found
        if teacher is not None and round_ < args.rounds:
            # the student becomes the teacher: its boxes, tracked, label the videos again
            teacher = {"name": f"student-round{round_}", "detect": [
                {"plugin": "detector", "params": {"model": str(result.model_path)}},  # the plugin's score threshold
                {"plugin": "track", "params": {"min_hits": 2, "max_age": 5}},
            ]}
            label_map = {}
    assert result is not None
    print(f"wrote {result.model_path} ({result.epochs} epochs, weights of epoch {result.best_epoch})")
    for label in result.classes:
        if label in result.ap50:
            print(f"  {label}: held-out AP@0.5 {result.ap50[label]:.3f}, AP@[.5:.95] {result.ap[label]:.3f}")
    print(f"model card: {result.card_path}")
    return 0
