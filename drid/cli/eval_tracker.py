"""``drid eval tracker``: score a tracker against tracking ground truth (the command line of
:func:`drid.eval.tracking.evaluate_tracker`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from drid.cli._args import groundtruth_path, key_value, positive_int
from drid.errors import ConfigError

#: Bundled tracking ground truth: name → file in drid/eval/annotations/.


def register(subparsers: Any) -> None:
    """Add ``drid eval tracker`` to the ``drid eval`` sub-commands."""
    p = subparsers.add_parser(
        "tracker",
        help="MOTA, IDF1, HOTA and ID switches of a tracker against tracking ground truth",
        description="Run a detect stage ending in a tracker over the clips of a tracking ground truth and score the tracks:\n"
                    "CLEAR MOT (MOTA, MOTP, ID switches, fragmentations, MT/PT/ML), identity (IDF1, IDP, IDR) and HOTA\n"
                    "(DetA, AssA, LocA).\n\n"
                    "GROUNDTRUTH is a file in drid's format ('clips', or frames with track_id: see drid.eval.groundtruth),\n"
                    "a MOTChallenge gt.txt (with --video to run a tracker, or --result), or a bundled one: 'packaged'\n"
                    "(clips that installed packages ship) or 'shared' (clips of ../shared/data, skipped where absent).\n"
                    "Each clip of drid's format names the detectors suited to it; --config uses a pipeline config's detect\n"
                    "stage instead. --result scores MOTChallenge result files instead of running a tracker.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  drid eval tracker packaged --algorithm bytetrack\n"
               "  drid eval tracker shared --algorithm sort --set lost_s=2 --json\n"
               "  drid eval tracker packaged --config examples/vision/street-motion.yaml --write-mot out/mot\n"
               "  drid eval tracker MOT17-09/gt/gt.txt --video MOT17-09.mp4 --config people.yaml --label pedestrian\n"
               "  drid eval tracker MOT17-09/gt/gt.txt --result results/MOT17-09.txt --label pedestrian --distractor static_person",
    )
    p.add_argument("groundtruth", help="tracking ground-truth file (drid's JSON/YAML, or a MOTChallenge .txt), or 'packaged' / 'shared'")
    p.add_argument("--config", "-c", metavar="CONFIG", help="pipeline config whose detect stage is evaluated (default: each clip's own)")
    p.add_argument("--tracker", default="track", metavar="PLUGIN", help="the tracker plugin that ends the detect stage (appended when missing; default track)")
    p.add_argument("--algorithm", "-a", help="the tracker's algorithm (track: bytetrack or sort)")
    p.add_argument("--set", "-s", dest="settings", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                   help="a parameter of the tracker (lost_s=2) or, as PLUGIN.KEY=VALUE, of another plugin of the detect stage "
                        "(motion.min_area=500); repeatable")
    p.add_argument("--video", metavar="PATH", help="with a MOTChallenge gt.txt: the video it annotates (frame 1 is the video's first)")
    p.add_argument("--result", metavar="FILE_OR_DIR", help="score this MOTChallenge result file (or a folder of CLIP.txt) instead of running a tracker")
    p.add_argument("--min-visibility", type=float, default=0.0, help="MOTChallenge gt: ignore boxes less visible than this (default 0)")
    p.add_argument("--distractor", action="append", default=[], metavar="CLASS",
                   help="MOTChallenge gt: ignore boxes of this class (number or name, e.g. static_person; repeatable)")
    p.add_argument("--clip", action="append", default=[], help="evaluate this clip only (repeatable; default: all)")
    p.add_argument("--label", "-l", action="append", default=[], help="score the ground truth of this label only (repeatable)")
    p.add_argument("--iou", type=float, default=0.5, help="IoU a box needs to match for CLEAR MOT and IDF1 (default 0.5)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--show", metavar="DIR", help="write annotated frames (ground truth white, tracks coloured by id) into DIR")
    p.add_argument("--show-every", type=positive_int, default=5, metavar="N", help="with --show: every N-th annotated frame (default 5)")
    p.add_argument("--write-mot", metavar="DIR", help="write each clip's tracks (CLIP.txt) and ground truth (CLIP.gt.txt) as MOTChallenge files into DIR")
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from drid.eval.tracking import evaluate_tracker

    path = groundtruth_path(args.groundtruth, tracks=True)
    if not 0.0 < args.iou <= 1.0:
        raise ConfigError(f"--iou must be in (0, 1], got {args.iou}", path="--iou")
    settings = list(args.settings)
    if args.algorithm:
        settings.insert(0, ("algorithm", args.algorithm))
    groundtruth: Any = path
    if path.suffix.lower() == ".txt":
        from drid.eval.tracking import mot_groundtruth

        if args.video is None and args.result is None:
            raise ConfigError("a MOTChallenge ground-truth file needs --video (to run a tracker) or --result (to score one)", where=str(path))
        if args.video is not None and not Path(args.video).is_file():
            raise ConfigError("video not found", path="--video", where=args.video)
        groundtruth = [mot_groundtruth(path, args.video, min_visibility=args.min_visibility, distractors=args.distractor)]
    elif args.video or args.distractor or args.min_visibility:
        raise ConfigError("--video, --distractor and --min-visibility apply to MOTChallenge ground truth (a .txt file)", where=str(path))
    report = evaluate_tracker(args.config, groundtruth, settings=settings, iou_threshold=args.iou, labels=args.label or None,
                              clips=args.clip or None, write_mot_dir=args.write_mot, results=args.result, tracker=args.tracker)
    if args.show:
        import cv2

        from drid.eval.tracking import draw_frames

        folder = Path(args.show)
        folder.mkdir(parents=True, exist_ok=True)
        for r in report.clips:
            for number, image in draw_frames(r, args.show_every):
                cv2.imwrite(str(folder / f"{r.clip.title}_{number:05d}.png"), image)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.table())
    return 0
