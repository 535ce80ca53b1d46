"""``drid run CONFIG``: run a pipeline config end to end and print its summary table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from drid.cli._args import positive_int


def register(sub: Any) -> None:
    """Add ``drid run``."""
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
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from drid.pipeline import Pipeline
    from drid.pipeline.report import run_pipeline

    if args.backend == "ray" or args.shard:
        return _run_sharded(args)
    if args.address or args.workers:
        from drid.errors import ConfigError

        raise ConfigError("--address and --workers need --backend ray", path="--backend")
    pipe = Pipeline.from_config(args.config, args.overrides, mode=args.mode, max_frames=args.max_frames)
    return run_pipeline(pipe, progress=not args.no_progress, quiet=args.quiet, summary_json=args.summary_json)


def _run_sharded(args: argparse.Namespace) -> int:
    import sys

    from drid.errors import ConfigError
    from drid.pipeline._signals import stop_signals
    from drid.pipeline.backends import Shard, expand_shards, run_sharded
    from drid.pipeline.config import apply_overrides, read_config_file
    from drid.pipeline.report import exit_status, tell_interrupt, write_json

    data = read_config_file(args.config)
    if not isinstance(data, dict):
        raise ConfigError(f"a pipeline config must be a mapping with a 'source' key, got {type(data).__name__}", where=args.config)
    data = apply_overrides(data, list(args.overrides))
    if args.max_frames:
        engine = data.get("engine")
        if engine is None:
            engine = data["engine"] = {}
        if not isinstance(engine, dict):
            raise ConfigError(f"must be a mapping, got {type(engine).__name__}", path="engine", where=args.config)
        engine["max_frames"] = args.max_frames
    shards = expand_shards(args.shard) if args.shard else [Shard(name=Path(args.config).stem, overrides=())]
    with stop_signals(sigterm=True):
        result = run_sharded(data, shards, backend=args.backend, address=args.address, workers=args.workers, mode=args.mode, where=args.config,
                             on_interrupt=tell_interrupt)
    if not args.quiet:
        print(result.table(), file=sys.stderr if _writes_stdout(data) else sys.stdout)
    if args.summary_json:
        write_json(args.summary_json, result.as_dict())
    if result.interrupted:
        return exit_status(result.signal)
    return 0 if result.ok else 1


def _writes_stdout(data: dict[str, Any]) -> bool:
    sinks = data.get("sinks")
    return any(isinstance(s, dict) and isinstance(s.get("params"), dict) and s["params"].get("path") == "-" for s in (sinks if isinstance(sinks, list) else []))
