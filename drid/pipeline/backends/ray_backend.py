"""The Ray backend: shards as Ray tasks, one local engine per task, on a local or remote cluster.

Each shard runs ``run_shard`` in a Ray worker (``num_cpus=cpus_per_shard``), writes its own
outputs and returns its summary. A worker process that dies (killed, out of memory, node lost) is
retried up to ``max_retries`` times; after that the shard is reported ``failed`` with the reason.
drid errors inside a shard (a corrupt file) are not retried: they are reported at once.
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlparse

from drid.pipeline.backends.shards import DistributedSummary, Shard, ShardResult, run_shard
from drid.pipeline.errors import DridError

__all__ = ["connect", "run_on_ray"]


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DridError("the ray backend needs Ray: pip install 'drid[ray]'") from None
    return ray


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail fast, with one clear line, when nothing listens at a ``host:port`` or ``ray://``
    address (``ray.init`` itself may wait a long time before giving up)."""
    if address in ("auto", "local"):
        return
    parsed = urlparse(address if "://" in address else f"ray://{address}")
    host, port = parsed.hostname, parsed.port
    if not host or not port:
        raise DridError(f"Ray address '{address}' is not HOST:PORT (e.g. 127.0.0.1:6379, or ray://HOST:10001)")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DridError(f"cannot reach a Ray cluster at {address}: {reason} (start one with 'ray start --head', or leave --address out for a local one)") from None


def connect(address: str | None = None, workers: int | None = None) -> bool:
    """Join the cluster at ``address``, or start a local one with ``workers`` CPUs. Returns
    whether this call started Ray (and so should shut it down)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    if address:
        check_reachable(address)
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
    try:
        task = ray.remote(_shard_task).options(num_cpus=cpus_per_shard, max_retries=0)
        t0 = time.perf_counter()
        attempts = {s.name: 1 for s in shards}
        pending = {task.remote(data, s, where, mode, cpus_per_shard): s for s in shards}
        results: dict[str, ShardResult] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            shard = pending.pop(ref)
            try:
                out = ray.get(ref)
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError) as exc:
                if attempts[shard.name] <= max_retries:
                    attempts[shard.name] += 1
                    pending[task.remote(data, shard, where, mode, cpus_per_shard)] = shard
                    continue
                reason = f"worker died {attempts[shard.name]} times ({type(exc).__name__})"
                results[shard.name] = ShardResult(shard=shard, status="failed", error=reason, attempts=attempts[shard.name])
                continue
            except ray.exceptions.RayTaskError as exc:  # an unexpected exception inside the engine
                cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                results[shard.name] = ShardResult(shard=shard, status="failed", error=f"{type(cause).__name__}: {cause}", attempts=attempts[shard.name])
                continue
            results[shard.name] = ShardResult(
                shard=shard, status=out["status"], summary=out["summary"], error=out["error"], attempts=attempts[shard.name], worker=out["worker"], seconds=out["seconds"]
            )
        wall = time.perf_counter() - t0
        n_workers = int(ray.cluster_resources().get("CPU", 0) // cpus_per_shard) or 1
        return DistributedSummary(backend="ray", results=[results[s.name] for s in shards], wall_seconds=wall, workers=n_workers)
    finally:
        if started:
            ray.shutdown()
