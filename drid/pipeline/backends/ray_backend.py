"""The Ray backend: shards as Ray tasks, one local engine per task, on a local or remote cluster.

Each shard runs ``run_shard`` in a Ray worker (``num_cpus=cpus_per_shard``), writes its own
outputs and returns its summary. A worker process that dies (killed, out of memory, node lost) is
retried up to ``max_retries`` times; after that the shard is reported ``failed`` with the reason.
drid errors inside a shard (a corrupt file) are not retried: they are reported at once.
"""

from __future__ import annotations

import copy
import os
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field

from drid.errors import DridError
from drid.pipeline._binding import BoundHook, bind, plugin_manager
from drid.pipeline.backends.shards import DistributedSummary, Shard, ShardResult, _signal_of, run_shard
from drid.pipeline.config import PluginSpec
from drid.pipeline.hookspecs import STAGES, hookimpl

__all__ = ["ActorProxy", "StageActor", "connect", "run_on_ray"]


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DridError("the ray backend needs Ray: pip install 'drid[ray]'") from None
    return ray


#: The opening of an HTTP/2 connection and an empty SETTINGS frame: a gRPC server (Ray's GCS,
#: the Ray client server) answers with a SETTINGS frame of its own; anything else does not.
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def check_reachable(address: str, timeout: float = 3.0, *, origin: str = "") -> None:
    """Fail fast, with one clear line, unless a Ray cluster can answer at a ``host:port`` or
    ``ray://`` address: a malformed address, a closed port, or a server there that does not speak
    gRPC (what Ray's GCS and client server speak) are each refused within ``timeout`` seconds,
    where ``ray.init`` itself retries for many minutes. ``origin`` says where the address came
    from (``RAY_ADDRESS``) in the message."""
    if address in ("auto", "local"):
        return
    named = f"Ray address '{address}'{f' (from {origin})' if origin else ''}"
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    try:
        host, port = parsed.hostname, parsed.port
    except ValueError as exc:  # a port out of range, or not a number
        raise DridError(f"{named} is not HOST:PORT: {exc}") from None
    if not host or not port:
        raise DridError(f"{named} is not HOST:PORT (e.g. 127.0.0.1:6379, or ray://HOST:10001)")
    where = f"{address}{f' (from {origin})' if origin else ''}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(_HTTP2_HELLO)
            answer = conn.recv(9)
    except TimeoutError:
        raise DridError(f"no Ray cluster at {where}: the server there did not answer within {timeout:g} s") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DridError(f"cannot reach a Ray cluster at {where}: {reason} (start one with 'ray start --head', or leave --address out for a local one)") from None
    if len(answer) < 9 or answer[3] != 0x04:  # HTTP/2 frame header: type SETTINGS
        raise DridError(f"no Ray cluster at {where}: the server listening there does not speak gRPC, as Ray's does (another service on that port?)")


def connect(address: str | None = None, workers: int | None = None) -> bool:
    """Join the cluster at ``address`` (or at ``RAY_ADDRESS`` when it is set), or start a local
    one with ``workers`` CPUs. Returns whether this call started Ray (and so should shut it
    down)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    origin = ""
    if not address and os.environ.get("RAY_ADDRESS"):
        address, origin = os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
    if address:
        check_reachable(address, origin=origin)
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        except Exception as exc:
            raise DridError(f"cannot join the Ray cluster at {address}: {type(exc).__name__}: {exc}") from None
    else:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    return True


def _shard_task(data: dict[str, Any], shard: Shard, where: str, mode: str | None, cpus: float) -> dict[str, Any]:
    # A task that reserved N CPUs must not run OpenCV's thread pool over the whole machine (Ray
    # already limits OMP_NUM_THREADS the same way): otherwise two workers fight over every core.
    try:
        import cv2

        cv2.setNumThreads(max(1, int(cpus)))
    except ImportError:
        pass
    return run_shard(data, shard, where, mode)


class StageActor:
    """One plugin instance in a Ray actor, serving the pipelines of every shard.

    Calls are queued; the first waits up to ``wait_ms`` for company, and at most ``max_batch``
    go to the plugin at once: through its ``batch_call(hook, calls)`` method when it has one (a
    classifier then runs one batch over the crops of many sources), else one by one."""

    def __init__(self, plugin: str, params: dict[str, Any], max_batch: int, wait_ms: float) -> None:
        from drid.pipeline.context import RunContext
        from drid.pipeline.registry import default_registry

        self.instance = default_registry().get(plugin).instantiate(params)
        self.pm = plugin_manager([(plugin, self.instance, plugin)])
        self.plugin = plugin
        self.max_batch = max_batch
        self.wait = wait_ms / 1e3
        self.pending: list[tuple[str, dict[str, Any], Any]] = []
        self.timer: Any = None
        self.batch_sizes: list[int] = []
        start = self._bound("drid_start")
        if start is not None:
            start(context=RunContext(name=f"actor:{plugin}", mode="actor"))

    def _bound(self, hook: str) -> BoundHook | None:
        return bind(self.pm, self.instance, hook)

    async def call(self, hook: str, kwargs: dict[str, Any]) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((hook, kwargs, future))
        if len(self.pending) >= self.max_batch:
            self._flush()
        elif self.timer is None:
            self.timer = loop.call_later(self.wait, self._flush)
        return await future

    def _flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
        if self.pending:
            import asyncio

            self.timer = asyncio.get_running_loop().call_soon(self._flush)
        by_hook: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        for hook, kwargs, future in batch:
            by_hook.setdefault(hook, []).append((kwargs, future))
        for hook, calls in by_hook.items():
            self.batch_sizes.append(len(calls))
            batch_call = getattr(self.instance, "batch_call", None)
            try:
                if batch_call is not None:
                    results = list(batch_call(hook, [kw for kw, _ in calls]))
                else:
                    bound = self._bound(hook)
                    if bound is None:
                        raise TypeError(f"plugin '{self.plugin}' does not implement {hook}")
                    results = [bound.call(kw) for kw, _ in calls]
            except Exception as exc:  # every caller of the batch sees the plugin's error
                for _, future in calls:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(calls, results):
                future.set_result(result)

    async def stats(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "calls": sum(self.batch_sizes), "batches": list(self.batch_sizes)}

    async def stop(self) -> None:
        from drid.pipeline.stats import RunSummary

        stop = self._bound("drid_stop")
        if stop is not None:
            stop(summary=RunSummary(name=f"actor:{self.plugin}", mode="actor"))


class ActorProxy:
    """Stands in a shard's pipeline for a plugin served by a ``StageActor`` (the Ray backend puts
    it there for config entries with ``actor:``); the engine still times and validates it."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        actor: str = Field(description="name of the Ray actor serving the plugin")

    def __init__(self, actor: str) -> None:
        self.actor_name = actor
        self.handle: Any = None

    def _call(self, hook: str, **kwargs: Any) -> Any:
        ray = _ray()
        if self.handle is None:
            self.handle = ray.get_actor(self.actor_name)
        return ray.get(self.handle.call.remote(hook, kwargs))

    @hookimpl
    def drid_detect(self, frame: Any) -> Any:
        return self._call("drid_detect", frame=frame)

    @hookimpl
    def drid_recognize(self, frame: Any, detections: Any) -> Any:
        return self._call("drid_recognize", frame=frame, detections=detections)

    @hookimpl
    def drid_interpret(self, frame: Any, objects: Any) -> Any:
        return self._call("drid_interpret", frame=frame, objects=objects)

    @hookimpl
    def drid_decide(self, frame: Any, scene: Any) -> Any:
        return self._call("drid_decide", frame=frame, scene=scene)


def start_actors(data: dict[str, Any], prefix: str) -> tuple[dict[str, Any], list[Any]]:
    """Start one ``StageActor`` per stage entry with ``actor:`` and return the config with those
    entries replaced by proxies (same name, so stats and errors still name the plugin)."""
    ray = _ray()
    out = copy.deepcopy(data)
    handles = []
    for stage in STAGES:
        entries = out.get(stage)
        items = entries if isinstance(entries, list) else [entries] if entries else []
        for i, entry in enumerate(items):
            if not isinstance(entry, dict) or not entry.get("actor"):
                continue
            spec = PluginSpec.model_validate(entry)
            assert spec.actor is not None
            name = f"{prefix}:{stage}:{i}:{spec.plugin}"
            remote = ray.remote(StageActor).options(name=name, num_cpus=spec.actor.num_cpus, num_gpus=spec.actor.num_gpus, max_concurrency=1000)
            handle = remote.remote(spec.plugin, spec.params, spec.actor.max_batch, spec.actor.wait_ms)
            handles.append(handle)
            proxy = {"plugin": f"{__name__}:ActorProxy", "name": spec.name or spec.plugin, "params": {"actor": name}}
            if spec.on_error:
                proxy["on_error"] = spec.on_error
            items[i] = proxy
        if isinstance(entries, dict) and items:
            out[stage] = items[0]
    if handles:
        ray.get([h.stats.remote() for h in handles])  # constructed (model loaded) before any shard starts
    return out, handles


def run_on_ray(
    data: dict[str, Any],
    shards: list[Shard],
    *,
    where: str = "",
    address: str | None = None,
    workers: int | None = None,
    mode: str | None = None,
    max_retries: int = 2,
    cpus_per_shard: float = 1.0,
) -> DistributedSummary:
    ray = _ray()
    started = connect(address, workers)
    handles: list[Any] = []
    try:
        try:
            data, handles = start_actors(data, f"drid-{uuid.uuid4().hex[:8]}")
        except ray.exceptions.RayActorError as exc:
            raise DridError(f"a stage actor failed to start: {exc}") from None
        task = ray.remote(_shard_task).options(num_cpus=cpus_per_shard, max_retries=0)
        t0 = time.perf_counter()
        attempts = {s.name: 1 for s in shards}
        pending = {task.remote(data, s, where, mode, cpus_per_shard): s for s in shards}
        results: dict[str, ShardResult] = {}
        try:
            _collect(ray, task, pending, results, attempts, data, where, mode, cpus_per_shard, max_retries)
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM at the driver: every shard stops the way a local run does
            _stop_shards(ray, pending, results, attempts, _signal_of(exc))
        wall = time.perf_counter() - t0
        n_workers = int(ray.cluster_resources().get("CPU", 0) // cpus_per_shard) or 1
        actors = ray.get([h.stats.remote() for h in handles])
        return DistributedSummary(backend="ray", results=[results[s.name] for s in shards], wall_seconds=wall, workers=n_workers, actors=actors)
    finally:
        for h in handles:
            try:
                ray.get(h.stop.remote())
            except Exception:  # a dead actor has nothing left to close
                pass
            ray.kill(h)
        if started:
            ray.shutdown()


#: Seconds the shards get, after a stop signal, to finish their frames in flight and close their
#: outputs before the driver gives up on them (a second signal gives up at once).
STOP_GRACE_S = 60.0


def _stop_shards(ray: Any, pending: dict[Any, Shard], results: dict[str, ShardResult], attempts: dict[str, int], signal: str) -> None:
    """Cancel every pending shard task without force: Ray raises ``KeyboardInterrupt`` in a
    running one, whose pipeline then drains and closes its sinks (videos playable, JSONL whole)
    and returns its summary as ``interrupted``; a task that had not started never runs."""
    for ref in pending:
        ray.cancel(ref, force=False)
    deadline = time.monotonic() + STOP_GRACE_S
    for ref, shard in pending.items():
        try:
            out = ray.get(ref, timeout=max(0.1, deadline - time.monotonic()))
        except KeyboardInterrupt:  # a second signal: stop waiting for any of them
            deadline = 0.0
            results[shard.name] = ShardResult(shard=shard, status="interrupted", error=f"abandoned at a second {signal}", attempts=attempts[shard.name])
            continue
        except ray.exceptions.TaskCancelledError:
            results[shard.name] = ShardResult(shard=shard, status="not run", error=f"the run was stopped by {signal}", attempts=0)
            continue
        except ray.exceptions.GetTimeoutError:
            results[shard.name] = ShardResult(shard=shard, status="interrupted", error=f"did not stop within {STOP_GRACE_S:g} s of {signal}", attempts=attempts[shard.name])
            continue
        except Exception as exc:  # the worker died on its way out
            results[shard.name] = ShardResult(shard=shard, status="interrupted", error=f"{type(exc).__name__} while stopping", attempts=attempts[shard.name])
            continue
        if out["status"] == "interrupted" or (out["status"] == "ok" and out["summary"].get("interrupted")):
            results[shard.name] = ShardResult(shard=shard, status="interrupted", summary={**out["summary"], "signal": signal}, error=f"stopped by {signal}",
                                              attempts=attempts[shard.name], worker=out["worker"], seconds=out["seconds"])
        else:  # it ended (done or failed) before the cancel reached it
            results[shard.name] = ShardResult(shard=shard, status=out["status"], summary=out["summary"], error=out["error"],
                                              attempts=attempts[shard.name], worker=out["worker"], seconds=out["seconds"])
    for shard in pending.values():
        results.setdefault(shard.name, ShardResult(shard=shard, status="not run", error=f"the run was stopped by {signal}", attempts=0))
    pending.clear()


def _collect(ray: Any, task: Any, pending: dict[Any, Shard], results: dict[str, ShardResult], attempts: dict[str, int],
             data: dict[str, Any], where: str, mode: str | None, cpus_per_shard: float, max_retries: int) -> None:
    """Wait for the shard tasks, retrying those whose worker died, until none is pending."""
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        ref = done[0]
        shard = pending[ref]  # still pending until its result is in: a stop signal then stops it too
        try:
            out = ray.get(ref)
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError) as exc:
            del pending[ref]
            if attempts[shard.name] <= max_retries:
                attempts[shard.name] += 1
                pending[task.remote(data, shard, where, mode, cpus_per_shard)] = shard
                continue
            reason = f"worker died {attempts[shard.name]} times ({type(exc).__name__})"
            results[shard.name] = ShardResult(shard=shard, status="failed", error=reason, attempts=attempts[shard.name])
            continue
        except ray.exceptions.RayTaskError as exc:  # an unexpected exception inside the engine
            del pending[ref]
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            results[shard.name] = ShardResult(shard=shard, status="failed", error=f"{type(cause).__name__}: {cause}", attempts=attempts[shard.name])
            continue
        del pending[ref]
        results[shard.name] = ShardResult(
            shard=shard, status=out["status"], summary=out["summary"], error=out["error"], attempts=attempts[shard.name], worker=out["worker"], seconds=out["seconds"]
        )
