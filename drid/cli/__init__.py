"""The ``drid`` command: run pipelines, list plugins, print schemas, run demos, and the
``drid train …`` / ``drid eval …`` sub-commands that installed distributions add through the
entry-point group ``drid.cli`` (see :mod:`drid.cli._commands`). Each verb lives in its own module.

Errors print as one line (``drid: error: <where>: <what>``) with a non-zero exit code; add
``--traceback`` to see the Python traceback as well.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from drid.cli import demo, plugins, run, schema
from drid.cli._args import key_value, positive_int
from drid.cli._commands import add_verbs

# positive_int and key_value: argparse types for the authors of third-party sub-commands.
__all__ = ["build_parser", "key_value", "main", "positive_int"]

EXAMPLES = """\
examples:
  drid run examples/faces.yaml                      run a pipeline config
  drid run cfg.yaml --mode concurrent --max-frames 100
  drid run cfg.yaml --set source.params.path=clip.mp4 --set detect.0.params.scale=1.1
  drid run cfg.yaml --backend ray --shard "source.params.path=clips/*.mp4"   one Ray task per clip
  drid plugins                                      what is installed, with parameters
  drid plugins --json                               the same, for machines
  drid schema Detection                             JSON Schema of a message
  drid demo                                         the main demo (writes under out/)

A pipeline config is YAML:
  source:    {plugin: video, params: {path: clip.mp4}}
  detect:    [{plugin: hog-people}]
  sinks:     [{plugin: jsonl, params: {path: out/clip.jsonl}}]
  engine:    {mode: concurrent, on_error: {detect: skip}}
"""


def _version() -> str:
    # The installed distribution's version, as drid.__version__ reads it (the CLI sits below the
    # top-level package, so it asks the metadata itself).
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("drid")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """The ``drid`` parser: every sub-command sets ``handler``, the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="drid",
        description="drid: perception-to-action pipelines (detect → recognize → interpret → decide).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drid {_version()}")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb in (run, plugins, schema):
        verb.register(sub)
    add_verbs(sub)  # train, eval: from the drid.cli entry points
    demo.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from drid.errors import DridError

    try:
        return int(args.handler(args))
    except DridError as exc:
        if args.traceback:
            raise
        print(f"drid: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        if args.traceback:
            raise
        print("drid: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.traceback:
            raise
        print(f"drid: internal error: {type(exc).__name__}: {exc} (rerun with --traceback for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
