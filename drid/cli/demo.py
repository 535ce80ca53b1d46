"""``drid demo [NAME] [PATH]``: run a demo on data that installed packages ship."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from drid.cli._args import positive_int


def register(sub: Any) -> None:
    """Add ``drid demo``."""
    from drid.demos import DEFAULT_DEMO, DEMOS

    demo = sub.add_parser("demo", help="run a demo", description="Run a demo on data shipped with the installed packages and write its outputs.")
    demo.add_argument("name", nargs="?", default=DEFAULT_DEMO, choices=sorted(DEMOS), help=f"which demo (default: {DEFAULT_DEMO})")
    demo.add_argument("path", nargs="?", help="input to use instead of the embedded default")
    demo.add_argument("--out", default="out", help="output folder (default: out)")
    demo.add_argument("--max-frames", type=positive_int, metavar="N")
    demo.add_argument("--scene", metavar="FILE",
                      help="video demo on other footage: a config whose stages (zones, lines, rules) fit it, like drid/demos/street-rules.yaml")
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from drid.demos import DEMOS

    if args.scene is not None:
        if args.name != "video":
            from drid.errors import ConfigError

            raise ConfigError(f"--scene is for 'drid demo video', not '{args.name}'", path="--scene")
        return DEMOS["video"](path=args.path, out=Path(args.out), max_frames=args.max_frames, scene=args.scene)
    return DEMOS[args.name](path=args.path, out=Path(args.out), max_frames=args.max_frames)
