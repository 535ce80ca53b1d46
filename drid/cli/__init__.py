"""The ``drid`` command: run pipelines, list plugins, print schemas, run demos, and the
``drid train …`` / ``drid eval …`` sub-commands that installed distributions add through the
entry-point group ``drid.cli`` (see :mod:`drid.cli._commands`). Each verb lives in its own module.

Errors print as one line (``drid: error: <where>: <what>``) with exit code 2 for a usage or
config error and 1 for a run-time error; add ``--traceback`` to see the Python traceback as well.
The libraries' own logging (TensorFlow, OpenCV/FFmpeg, SDL, Ray) is silenced unless ``--verbose``
is given (see :mod:`drid.cli._quiet`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from drid.cli import demo, plugins, run, schema
from drid.cli._args import key_value, positive_int
from drid.cli._commands import add_verbs
from drid.cli._quiet import quiet_libraries

# positive_int and key_value: argparse types for the authors of third-party sub-commands.
__all__ = ["build_parser", "key_value", "main", "positive_int"]

EXAMPLES = """\
examples:
  drid run examples/vision/faces.yaml               run a pipeline config
  drid run cfg.yaml --mode concurrent --max-frames 100
  drid run cfg.yaml --set source.params.path=clip.mp4 --set detect.0.params.scale_factor=1.2
  drid run cfg.yaml --backend ray --shard "source.params.path=clips/*.mp4"   one Ray task per clip
  drid plugins                                      what is installed, with parameters
  drid plugins --json                               the same, for machines
  drid schema Detection                             JSON Schema of a message
  drid demo                                         the main demo (writes under out/)
  drid run cfg.yaml --verbose                       let TensorFlow, OpenCV/FFmpeg and Ray log as they do

A pipeline config is YAML:
  source:    {plugin: video, params: {path: clip.mp4}}
  detect:    [{plugin: hog-people}]
  sinks:     [{plugin: jsonl, params: {path: out/clip.jsonl}}]
  engine:    {mode: concurrent, on_error: {detect: skip}}
Input paths in a config are read from the config file's folder; paths given with --set from the
working directory, where outputs are written too.
"""


def _version() -> str:
    # The installed distribution's version, as drid.__version__ reads it (the CLI sits below the
    # top-level package, so it asks the metadata itself).
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("drid")
    except PackageNotFoundError:
        return "0.0.0+unknown"


#: Longest error message printed (the rest is cut): an error names its input, never prints it.
MAX_MESSAGE = 1000


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one line of at most ``limit`` characters: the lines of a library's multi-line
    message are joined with `` / ``."""
    joined = " / ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


class Parser(argparse.ArgumentParser):
    """argparse with drid's one-line usage errors: ``drid run: error: … (see 'drid run --help')``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``drid`` parser: every sub-command sets ``handler``, the function that runs it."""
    parser = Parser(
        prog="drid",
        description="drid: perception-to-action pipelines (detect → recognize → interpret → decide).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drid {_version()}")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")
    parser.add_argument("--verbose", action="store_true",
                        help="let the libraries (TensorFlow, OpenCV, FFmpeg, Ray) log as they do (accepted anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb in (run, plugins, schema):
        verb.register(sub)
    add_verbs(sub)  # train, eval: from the drid.cli entry points
    demo.register(sub)
    return parser


def _take_verbose(argv: list[str]) -> bool:
    """Remove ``--verbose`` from ``argv`` (anywhere before ``--``) and say whether it was there."""
    end = argv.index("--") if "--" in argv else len(argv)
    found = "--verbose" in argv[:end]
    argv[:end] = [a for a in argv[:end] if a != "--verbose"]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """The ``drid`` command. ``argv`` defaults to the process's arguments; given explicitly (a
    caller in Python, a test), the process's file descriptors are left alone."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if _take_verbose(args_list):
        os.environ["DRID_VERBOSE"] = "1"  # for code that configures a library later (the Ray backend's ray.init)
    else:
        quiet_libraries(native=argv is None)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    from drid.errors import DridError

    try:
        status = int(args.handler(args))
        sys.stdout.flush()  # a closed pipe shows here, not as a message at exit
        return status
    except BrokenPipeError:  # `drid schema | head`: the reader has gone, as it may
        _stdout_to_devnull()
        return 141  # 128 + SIGPIPE, what a command killed by the closed pipe would return
    except DridError as exc:
        if args.traceback:
            raise
        print(f"drid: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if args.traceback:
            raise
        signum = getattr(exc, "signum", None)  # drid's stop-signal handling says which signal (SIGTERM: 143)
        print(f"drid: interrupted{f' ({exc})' if signum else ''}", file=sys.stderr)
        return 128 + int(signum) if signum else 130
    except Exception as exc:
        if args.traceback:
            raise
        print(one_line(f"drid: internal error: {type(exc).__name__}: {exc}", MAX_MESSAGE - 40) + " (rerun with --traceback for details)",
              file=sys.stderr)
        return 1


def _stdout_to_devnull() -> None:
    """Point standard output at ``/dev/null``, so that the interpreter's final flush does not fail
    on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real descriptor behind stdout (a test's capture)
        pass


if __name__ == "__main__":
    sys.exit(main())
