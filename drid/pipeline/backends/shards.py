"""Shards of a pipeline config, their per-shard outputs, and the local backend."""

from __future__ import annotations

import copy
import glob
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drid.errors import ConfigError, DridError
from drid.pipeline.config import PipelineConfig, apply_overrides, read_config_file

__all__ = ["DistributedSummary", "Shard", "ShardResult", "expand_shards", "run_sharded", "run_shard"]


@dataclass(frozen=True)
class Shard:
    """One unit of distributed work: a name and the overrides that make its config."""

    name: str
    overrides: tuple[str, ...]


@dataclass
class ShardResult:
    """How a shard ended: ``ok``; ``failed`` with the reason; ``interrupted`` (a stop signal
    ended it early: its outputs are complete up to where it stopped); ``not run`` (the run was
    interrupted before this shard began). Never silently missing."""

    shard: Shard
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 1
    worker: str = ""
    seconds: float = 0.0

    @property
    def frames_out(self) -> int:
        return int(self.summary.get("frames_out", 0))


@dataclass
class DistributedSummary:
    """Every shard's result, in shard order, and the wall time of the whole run."""

    backend: str
    results: list[ShardResult]
    wall_seconds: float
    workers: int = 1
    #: Stage actors of the run: plugin, calls served, and the size of each batch.
    actors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.results)

    @property
    def interrupted(self) -> bool:
        """Whether a stop signal ended the run before every shard was done."""
        return any(r.status in ("interrupted", "not run") for r in self.results)

    @property
    def signal(self) -> str | None:
        """The stop signal of an interrupted run (``SIGINT``, ``SIGTERM``)."""
        return next((str(r.summary["signal"]) for r in self.results if r.summary.get("signal")), "SIGINT" if self.interrupted else None)

    @property
    def frames_out(self) -> int:
        return sum(r.frames_out for r in self.results)

    def table(self) -> str:
        head = f"{'shard':<28} {'status':<11} {'frames':>7} {'dropped':>7} {'seconds':>8} {'tries':>5}  worker / reason"
        lines = [head, "-" * len(head)]
        for r in self.results:
            dropped = sum((r.summary.get("drops") or {}).values())
            note = r.error if r.status != "ok" else r.worker
            lines.append(f"{r.shard.name[:28]:<28} {r.status:<11} {r.frames_out:>7} {dropped:>7} {r.seconds:>8.2f} {r.attempts:>5}  {note}")
        lines.append("-" * len(head))
        failed = sum(r.status == "failed" for r in self.results)
        status = "interrupted" if self.interrupted else "FAILED" if failed else "done"
        fps = self.frames_out / self.wall_seconds if self.wall_seconds > 0 else 0.0
        for actor in self.actors:
            sizes = actor["batches"]
            mean = sum(sizes) / len(sizes) if sizes else 0.0
            lines.append(f"actor {actor['plugin']}: {actor['calls']} calls in {len(sizes)} batches (mean {mean:.1f}, max {max(sizes, default=0)})")
        lines.append(
            f"{status}: {len(self.results)} shards ({failed} failed), {self.frames_out} frames "
            f"in {self.wall_seconds:.2f} s ({fps:.1f} frames/s, backend {self.backend}, {self.workers} workers)"
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "workers": self.workers,
            "wall_seconds": self.wall_seconds,
            "frames_out": self.frames_out,
            "actors": self.actors,
            "shards": [
                {"name": r.shard.name, "overrides": list(r.shard.overrides), "status": r.status, "error": r.error,
                 "attempts": r.attempts, "worker": r.worker, "seconds": r.seconds, "summary": r.summary}
                for r in self.results
            ],
        }


def _signal_of(exc: BaseException) -> str:
    from drid.pipeline._signals import Interrupted, signal_name

    return signal_name(exc.signum) if isinstance(exc, Interrupted) else "SIGINT"


_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


def _shard_name(value: str) -> str:
    base = Path(value).stem if ("/" in value or "." in value) and not value.replace(".", "").isdigit() else value
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base) or "shard"


def expand_shards(spec: str) -> list[Shard]:
    """``KEY=VALUES`` → one shard per value. VALUES is a glob (``clips/*.mp4``, sorted), a comma
    list (``a.mp4,b.mp4`` or ``0,1,2``) or an integer range (``0..7``, inclusive)."""
    if "=" not in spec:
        raise ConfigError(f"shard spec '{spec}' is not KEY=VALUES (e.g. source.params.path='clips/*.mp4')", path="--shard")
    key, _, raw = spec.partition("=")
    key, raw = key.strip(), raw.strip()
    if not key or not raw:
        raise ConfigError(f"shard spec '{spec}' has an empty key or value", path="--shard")
    if m := _RANGE.match(raw):
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < lo:
            raise ConfigError(f"shard range {raw} is empty", path="--shard")
        values = [str(v) for v in range(lo, hi + 1)]
    elif any(ch in raw for ch in "*?["):
        values = sorted(glob.glob(os.path.expanduser(raw)))
        if not values:
            raise ConfigError(f"shard glob '{raw}' matches no files", path="--shard")
    else:
        values = [v.strip() for v in raw.split(",") if v.strip()]
    names: dict[str, int] = {}
    shards = []
    for value in values:
        name = _shard_name(value)
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:
            name = f"{name}-{names[name]}"
        shards.append(Shard(name=name, overrides=(f"{key}={value}",)))
    return shards


def shard_config(data: dict[str, Any], shard: Shard) -> dict[str, Any]:
    """The shard's config: the overrides applied, and every sink ``path`` made per-shard (a
    ``{shard}`` placeholder is filled in; otherwise ``-NAME`` goes before the extension)."""
    out = apply_overrides(copy.deepcopy(data), list(shard.overrides))
    sinks = out.get("sinks") or []
    for spec in sinks if isinstance(sinks, list) else []:
        params = spec.get("params") if isinstance(spec, dict) else None
        if isinstance(params, dict) and isinstance(params.get("path"), str) and params["path"] != "-":
            path = params["path"]
            if "{shard}" in path:
                params["path"] = path.replace("{shard}", shard.name)
            else:
                p = Path(path)
                params["path"] = str(p.with_name(f"{p.stem}-{shard.name}{p.suffix}"))
    return out


def run_shard(data: dict[str, Any], shard: Shard, where: str = "", mode: str | None = None, on_interrupt: Any = None) -> dict[str, Any]:
    """Run one shard with the local engine; what a worker returns (plain data, picklable).

    drid errors (a bad file in this shard, a plugin failing under ``fail``) come back as
    ``status: failed`` with the one-line message: they would fail again on a retry."""
    from drid.pipeline.engine import Pipeline

    t0 = time.perf_counter()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    try:
        config = PipelineConfig.parse(shard_config(data, shard), where=f"{where} [shard {shard.name}]" if where else f"shard {shard.name}")
        pipe = Pipeline.from_config(config, mode=mode)
        summary = pipe.run(on_interrupt=on_interrupt)
    except DridError as exc:
        return {"status": "failed", "error": str(exc), "summary": {}, "worker": worker, "seconds": time.perf_counter() - t0}
    if summary.interrupted:
        return {"status": "interrupted", "error": f"stopped by {summary.signal or 'SIGINT'}", "summary": summary.as_dict(), "worker": worker,
                "seconds": time.perf_counter() - t0}
    return {"status": "ok", "error": None, "summary": summary.as_dict(), "worker": worker, "seconds": time.perf_counter() - t0}


def run_sharded(
    config: str | Path | dict[str, Any],
    shards: list[Shard],
    *,
    backend: str = "local",
    address: str | None = None,
    workers: int | None = None,
    mode: str | None = None,
    max_retries: int = 2,
    cpus_per_shard: float = 1.0,
    where: str = "",
    on_interrupt: Any = None,
) -> DistributedSummary:
    """Run ``config`` once per shard on ``backend`` (``local`` or ``ray``) and collect every
    shard's result. The config is validated once here, before any work is sent anywhere.
    ``on_interrupt`` is handed to each local shard's ``Pipeline.run`` (``drid run`` prints a line)."""
    if isinstance(config, (str, Path)):
        where = str(config)
        data = read_config_file(config)
    else:
        data = copy.deepcopy(config)
    if not shards:
        raise ConfigError("no shards to run", path="--shard")
    # Validate the first shard's config fully (plugins, parameters) before distributing.
    from drid.pipeline.engine import Pipeline

    Pipeline.from_config(PipelineConfig.parse(shard_config(data, shards[0]), where=where))
    if backend == "local":
        t0 = time.perf_counter()
        results: list[ShardResult] = []
        stopped: str | None = None  # the signal that ended the run
        for shard in shards:
            if stopped is not None:
                results.append(ShardResult(shard=shard, status="not run", error=f"the run was stopped by {stopped}", attempts=0))
                continue
            try:
                out = run_shard(data, shard, where, mode, on_interrupt)
            except KeyboardInterrupt as exc:  # between two shards' frames (building, starting, closing)
                stopped = _signal_of(exc)
                results.append(ShardResult(shard=shard, status="interrupted", error=f"stopped by {stopped}", summary={"signal": stopped}))
                continue
            if out["status"] == "interrupted":
                stopped = out["summary"].get("signal") or "SIGINT"
            results.append(ShardResult(shard=shard, status=out["status"], summary=out["summary"], error=out["error"], worker=out["worker"], seconds=out["seconds"]))
        return DistributedSummary(backend="local", results=results, wall_seconds=time.perf_counter() - t0, workers=1)
    if backend == "ray":
        from drid.pipeline.backends.ray_backend import run_on_ray

        return run_on_ray(data, shards, where=where, address=address, workers=workers, mode=mode, max_retries=max_retries, cpus_per_shard=cpus_per_shard)
    raise ConfigError(f"unknown backend '{backend}' (backends: local, ray)", path="--backend")
