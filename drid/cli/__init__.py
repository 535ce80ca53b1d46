"""The ``drid`` command: run pipelines, list plugins, print schemas, run demos.

Errors print as one line (``drid: error: <where>: <what>``) with a non-zero exit code; add
``--traceback`` to see the Python traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


#: Modules whose register(subparsers) adds a `drid train WHAT` / `drid eval WHAT` command.
TRAIN_MODULES: list[str] = ["drid.cli.policy", "drid.cli.train_classifier"]
EVAL_MODULES: list[str] = ["drid.cli.eval_detector", "drid.cli.policy:register_eval"]


def _version() -> str:
    from drid import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drid",
        description="drid: perception-to-action pipelines (detect → recognize → interpret → decide).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drid {_version()}")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a pipeline config", description="Run a pipeline config end to end and print its summary table.")
    run.add_argument("config", help="pipeline config file (YAML)")
    run.add_argument("--mode", choices=["sequential", "concurrent"], help="override engine.mode")
    run.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value by dotted path, e.g. detect.0.params.scale=1.1 (repeatable)")
    run.add_argument("--backend", choices=["local", "ray"], default="local",
                     help="'ray' runs each shard as a Ray task (local cluster, or --address); needs drid[ray]")
    run.add_argument("--address", metavar="ADDR", help="Ray cluster to join (HOST:PORT, ray://HOST:PORT or auto)")
    run.add_argument("--shard", metavar="KEY=VALUES",
                     help="one run per value: a glob, a comma list or a range, e.g. source.params.path='clips/*.mp4' or source.params.seed=0..7")
    run.add_argument("--workers", type=positive_int, metavar="N", help="CPUs of the local Ray cluster (default: all)")
    run.add_argument("--summary-json", metavar="PATH", help="also write the run summary as JSON")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--quiet", "-q", action="store_true", help="no summary table")
    run.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    plugins = sub.add_parser("plugins", help="list installed plugins", description="List every plugin in the 'drid' entry-point group.")
    plugins.add_argument("name", nargs="?", help="show one plugin only")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")

    schema = sub.add_parser("schema", help="print the JSON Schema of the messages", description="Print the JSON Schema of every message type (or of the named ones).")
    schema.add_argument("names", nargs="*", metavar="NAME", help="message names, e.g. Frame Detection")
    schema.add_argument("--indent", type=int, default=2)

    from drid.demos import DEFAULT_DEMO, DEMOS

    # `drid train …` and `drid eval …`: each feature module adds its own sub-command with
    # register(subparsers) and sets `handler` (a function of the parsed args returning the exit code).
    for verb, modules, text in (("train", TRAIN_MODULES, "train a model or a policy"), ("eval", EVAL_MODULES, "evaluate a detector or a policy")):
        group = sub.add_parser(verb, help=text, description=text[0].upper() + text[1:] + ".")
        targets = group.add_subparsers(dest="target", metavar="WHAT", required=True)
        for module in modules:
            module_name, _, function = module.partition(":")
            getattr(importlib.import_module(module_name), function or "register")(targets)

    demo = sub.add_parser("demo", help="run a demo", description="Run a demo on data shipped with the installed packages and write its outputs.")
    demo.add_argument("name", nargs="?", default=DEFAULT_DEMO, choices=sorted(DEMOS), help=f"which demo (default: {DEFAULT_DEMO})")
    demo.add_argument("path", nargs="?", help="input to use instead of the embedded default")
    demo.add_argument("--out", default="out", help="output folder (default: out)")
    demo.add_argument("--max-frames", type=positive_int, metavar="N")
    return parser


def positive_int(text: str) -> int:
    """argparse type of every count option of drid's commands: a whole number ≥ 1 (``1e5`` is
    accepted for large step counts)."""
    try:
        number = float(text)
        if not number.is_integer():
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    value = int(number)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def key_value(text: str) -> tuple[str, Any]:
    """argparse type of ``KEY=VALUE`` options (``--hp``, ``--param``): the value is read as YAML
    (``1e-3`` a float, ``true`` a bool, ``[64, 64]`` a list), or kept as text when it is not YAML."""
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def run_pipeline(pipe: Any, *, progress: bool = True, quiet: bool = False, summary_json: str | None = None, out: Any = None) -> int:
    """Run a built pipeline with an optional progress bar; print the summary; exit status."""
    out = out or sys.stdout
    bar = None
    with pipe:
        total = pipe.expected_frames
        if progress and sys.stderr.isatty() and (total is None or total >= 30):
            from tqdm import tqdm

            bar = tqdm(total=total, unit="frame", desc=pipe.name, file=sys.stderr, dynamic_ncols=True)
        try:
            for _ in pipe.records():
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    summary = pipe.summary
    if not quiet:
        print(summary.table(), file=out)
    if summary_json:
        Path(summary_json).parent.mkdir(parents=True, exist_ok=True)
        Path(summary_json).write_text(json.dumps(summary.as_dict(), indent=2), encoding="utf-8")
    return 130 if summary.interrupted else 0


def cmd_run(args: argparse.Namespace) -> int:
    from drid.pipeline import Pipeline

    if args.backend == "ray" or args.shard:
        return _run_sharded(args)
    if args.address or args.workers:
        from drid.errors import ConfigError

        raise ConfigError("--address and --workers need --backend ray", path="--backend")
    pipe = Pipeline.from_config(args.config, args.overrides, mode=args.mode, max_frames=args.max_frames)
    return run_pipeline(pipe, progress=not args.no_progress, quiet=args.quiet, summary_json=args.summary_json)


def _run_sharded(args: argparse.Namespace) -> int:
    from drid.pipeline.backends import Shard, expand_shards, run_sharded
    from drid.pipeline.config import apply_overrides, read_config_file

    data = apply_overrides(read_config_file(args.config), list(args.overrides))
    if args.max_frames:
        data.setdefault("engine", {})["max_frames"] = args.max_frames
    shards = expand_shards(args.shard) if args.shard else [Shard(name=Path(args.config).stem, overrides=())]
    result = run_sharded(data, shards, backend=args.backend, address=args.address, workers=args.workers, mode=args.mode, where=args.config)
    if not args.quiet:
        print(result.table())
    if args.summary_json:
        Path(args.summary_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.summary_json).write_text(json.dumps(result.as_dict(), indent=2), encoding="utf-8")
    return 0 if result.ok else 1


def cmd_plugins(args: argparse.Namespace) -> int:
    from drid.errors import ConfigError
    from drid.pipeline.registry import default_registry

    registry = default_registry()
    if args.name:
        registry.get(args.name, path="plugins")
        infos = [registry.info(args.name)]
    else:
        infos = registry.all()
    rows = []
    for info in infos:
        row: dict[str, Any] = {
            "name": info.name,
            "stages": info.roles,
            "distribution": info.distribution,
            "version": info.version,
            "target": info.target,
            "description": info.description,
            "error": info.error,
            "parameters": [],
        }
        if info.ok:
            try:
                row["parameters"] = info.parameters()
            except Exception as exc:  # a plugin with an unusable parameter model is reported, not fatal
                row["error"] = f"parameters: {exc}"
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        origin = f"{row['distribution'] or '?'} {row['version'] or ''}".strip()
        if row["error"]:
            print(f"{row['name']:<20} FAILED TO LOAD ({origin}, {row['target']}): {row['error']}")
            continue
        print(f"{row['name']:<20} {', '.join(row['stages']):<18} {origin:<16} {row['description']}")
        for p in row["parameters"]:
            default = "required" if p["required"] else f"default {json.dumps(p['default'])}"
            doc = f"  {p['description']}" if p["description"] else ""
            print(f"    {p['name']}: {p['type']} ({default}){doc}")
    if not rows:
        raise ConfigError("no plugins are installed in the 'drid' entry-point group")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from drid.errors import ConfigError, close_matches
    from drid.schemas import MESSAGES

    names = args.names or list(MESSAGES)
    for name in names:
        if name not in MESSAGES:
            hint = close_matches(name, MESSAGES) or " (messages: " + ", ".join(MESSAGES) + ")"
            raise ConfigError(f"unknown message '{name}'{hint}", path="schema")
    doc = {name: MESSAGES[name].model_json_schema() for name in names}
    print(json.dumps(doc if len(names) > 1 else doc[names[0]], indent=args.indent))
    return 0


def cmd_dispatch(args: argparse.Namespace) -> int:
    return int(args.handler(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from drid.demos import DEMOS

    return DEMOS[args.name](path=args.path, out=Path(args.out), max_frames=args.max_frames)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "plugins": cmd_plugins,
    "schema": cmd_schema,
    "demo": cmd_demo,
    "train": cmd_dispatch,
    "eval": cmd_dispatch,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from drid.errors import DridError

    try:
        return COMMANDS[args.command](args)
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
