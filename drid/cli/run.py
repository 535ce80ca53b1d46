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
                     help="override a config value by dotted path, e.g. detect.0.params.scale_factor=1.2 (repeatable)")
    run.add_argument("--backend", choices=["local", "ray"], default="local",
                     help="'ray' runs each shard as a Ray task (local cluster, or --address); needs drid[ray]")
    run.add_argument("--address", metavar="ADDR", help="Ray cluster to join (HOST:PORT, ray://HOST:PORT or auto)")
    run.add_argument("--shard", metavar="KEY=VALUES",
                     help="one run per value: a glob, a comma list or a range, e.g. source.params.path='clips/*.mp4' or source.params.seed=0..7")
    run.add_argument("--workers", type=positive_int, metavar="N", help="CPUs of the local Ray cluster (default: all)")
    run.add_argument("--serve", metavar="[HOST:]PORT", type=serve_address,
                     help="serve a live page of the run (annotated video, decisions, stages, frames/s) and Prometheus metrics at /metrics; "
                          "HOST defaults to 127.0.0.1 (this machine only), PORT 0 picks a free one; needs drid[serve]")
    run.add_argument("--serve-wait", type=non_negative_seconds, default=0.0, metavar="SECONDS",
                     help="with --serve: wait up to SECONDS for a first viewer before reading the first frame")
    run.add_argument("--serve-linger", type=non_negative_seconds, default=0.0, metavar="SECONDS",
                     help="with --serve: keep the page up SECONDS after the run, showing its outcome (Ctrl-C ends it sooner)")
    run.add_argument("--summary-json", metavar="PATH", help="also write the run summary as JSON")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--quiet", "-q", action="store_true", help="no summary table")
    run.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    run.set_defaults(handler=cmd_run)


def serve_address(text: str) -> tuple[str, int]:
    """argparse type of ``--serve``: ``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT``."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected [HOST:]PORT with PORT a number from 0 to 65535, got '{text}'")
    return host, int(port)


def non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got '{text}'") from None
    if not value >= 0 or value > 86_400:
        raise argparse.ArgumentTypeError(f"must be from 0 to 86400 seconds, got '{text}'")
    return value


#: Interpreters whose ``zones`` and ``lines`` the live page draws on the video.
_ZONED = ("relations", "scene-rules")


def serve_spec(config: Any, address: tuple[str, int], wait: float, linger: float) -> Any:
    """The ``serve`` sink ``--serve`` adds to ``config``, drawing the zones and lines of its
    interpreters (the relations interpreter's, as the annotated video does)."""
    from drid.pipeline.config import PluginSpec

    zones = [z for spec in config.interpret if spec.plugin in _ZONED for z in spec.params.get("zones", [])]
    lines = [ln for spec in config.interpret if spec.plugin in _ZONED for ln in spec.params.get("lines", [])]
    params = {"host": address[0], "port": address[1], "wait_for_viewer": wait, "linger": linger, "zones": zones, "lines": lines}
    return PluginSpec(plugin="serve", params=params)


def cmd_run(args: argparse.Namespace) -> int:
    from drid.pipeline import Pipeline
    from drid.pipeline.report import run_pipeline

    if args.backend == "ray" or args.shard:
        if args.serve:
            from drid.errors import ConfigError

            raise ConfigError("the live view shows one pipeline process; it does not combine with --backend ray or --shard", path="--serve")
        return _run_sharded(args)
    if args.address or args.workers:
        from drid.errors import ConfigError

        raise ConfigError("--address and --workers need --backend ray", path="--backend")
    if (args.serve_wait or args.serve_linger) and not args.serve:
        from drid.errors import ConfigError

        raise ConfigError("--serve-wait and --serve-linger need --serve [HOST:]PORT", path="--serve")
    if not args.serve:
        pipe = Pipeline.from_config(args.config, args.overrides, mode=args.mode, max_frames=args.max_frames)
        return run_pipeline(pipe, progress=not args.no_progress, quiet=args.quiet, summary_json=args.summary_json)
    from drid.pipeline.config import load_config

    config = load_config(args.config, args.overrides)
    served = config.model_copy(update={"sinks": [*config.sinks, serve_spec(config, args.serve, args.serve_wait, args.serve_linger)]})
    served._where = config.where
    pipe = Pipeline.from_config(served, mode=args.mode, max_frames=args.max_frames)
    sink = pipe.sinks[-1].instance
    try:
        status = run_pipeline(pipe, progress=not args.no_progress, quiet=args.quiet, summary_json=args.summary_json)
        if args.serve_linger and sink.url:
            import sys

            print(f"drid: the live view stays at {sink.url} for {args.serve_linger:g} s (Ctrl-C ends it)", file=sys.stderr, flush=True)
            try:
                sink.wait()
            except KeyboardInterrupt:  # ends the linger only: the run's outcome stands
                pass
    finally:
        sink.close()
    return status


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
