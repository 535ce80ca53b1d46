"""The serve sink: its /metrics equal the run summary, a stalled viewer costs the pipeline no
frame, a port in use is a one-line error, the page and its state are served, no thread is left."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from drid.errors import ConfigError
from drid.pipeline import Pipeline
from drid.sinks.serve import ServeSink

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
parser = pytest.importorskip("prometheus_client.parser")


@pytest.fixture(scope="module")
def bikes() -> Path:
    from drid.demos.video import default_clip

    return default_clip()


def _street(clip: Path, sink: ServeSink, **source: Any) -> Pipeline:
    """The street rules of the video demo (motion, tracker, zones and line, GO/SLOW/STOP) on the clip."""
    from drid.demos.video import street_rules

    rules = street_rules()
    detect = [(d["plugin"], d.get("params") or {}) for d in rules["detect"] if d["plugin"] != "hog-people"]
    interpret = [(i["plugin"], i["params"]) for i in rules["interpret"]]
    return Pipeline(source=("video", {"path": str(clip), **source}), detect=detect, interpret=interpret,
                    decide=(rules["decide"]["plugin"], rules["decide"]["params"]), sinks=[sink], mode="concurrent")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=20) as answer:
        return bytes(answer.read())


def _serve_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("drid-serve")]


def test_metrics_parse_and_equal_the_run_summary_at_the_end(bikes: Path) -> None:
    sink = ServeSink(port=0, linger=60, announce=False)
    pipe = _street(bikes, sink, start=137, stop=187)
    events: list[Any] = []
    pipe.run(on_record=lambda r: events.extend(r.scene.events if r.scene else ()))
    try:
        text = _get(f"{sink.url}metrics").decode()
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in parser.text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    finally:
        sink.close()
    summary = pipe.summary

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("drid_frames_read_total") == summary.frames_read == 50
    assert value("drid_frames_written_total") == summary.frames_out == 50
    assert value("drid_run_info", pipeline="pipeline", mode="concurrent", status="done") == 1
    for name, stage in summary.stages.items():
        assert value("drid_stage_frames_total", stage=name, outcome="in") == stage.frames_in
        assert value("drid_stage_frames_total", stage=name, outcome="out") == stage.frames_out
        assert value("drid_stage_frames_total", stage=name, outcome="dropped") == stage.dropped
        assert value("drid_stage_latency_seconds_count", stage=name) == stage.latency.count
        assert value("drid_stage_latency_seconds_sum", stage=name) == pytest.approx(stage.latency.total)
        assert value("drid_queue_depth", stage=name) == 0  # the run is over: nothing waits
        for plugin, ps in stage.plugins.items():
            assert value("drid_plugin_calls_total", stage=name, plugin=plugin) == ps.calls
            assert value("drid_plugin_failures_total", stage=name, plugin=plugin) == ps.failures
            assert value("drid_plugin_latency_seconds_bucket", stage=name, plugin=plugin, le="+Inf") == ps.latency.count
    source = str(bikes)
    assert value("drid_source_frames_total", source=source) == 50
    entered = sum(1 for e in events if e.name == "entered_zone" and e.data["zone"] == "road")
    assert entered > 0 and value("drid_zone_entries_total", source=source, zone="road") == entered
    crossings = [e for e in events if e.name == "crossed_line"]
    for e in crossings:
        assert value("drid_line_crossings_total", source=source, line=e.data["line"], direction=e.data["direction"]) == \
            sum(1 for c in crossings if (c.data["line"], c.data["direction"]) == (e.data["line"], e.data["direction"]))
    assert not _serve_threads()


def test_a_stalled_viewer_costs_the_pipeline_no_frame(bikes: Path) -> None:
    # The largest preview frames of every frame for 5 s (the clip played in real time): some
    # 12 MB, more than any socket buffers hold, so the client that never reads stalls on any machine.
    sink = ServeSink(port=0, max_fps=120, quality=100, wait_for_viewer=30, announce=False)
    pipe = Pipeline(source=("video", {"path": str(bikes), "stop": 125, "realtime": True}), sinks=[sink], mode="concurrent")
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def connect_and_never_read() -> None:
        while sink.port is None:
            time.sleep(0.02)
        stalled.connect(("127.0.0.1", sink.port))
        stalled.sendall(b"GET /stream/0.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    threading.Thread(target=connect_and_never_read, daemon=True).start()
    try:
        pipe.run()
    finally:
        sink.close()
        stalled.close()
    summary = pipe.summary
    assert summary.frames_read == summary.frames_out == 125 and not summary.drops and summary.error is None
    note = next(n for n in summary.notes if n.startswith("serve:"))
    sent = int(note.split(" sent ")[1].split()[0])
    busy = int(note.split("viewer busy ")[1].split(")")[0].split(",")[0])
    assert busy > 0 and sent + busy <= 125 and sent < 63, note
    assert not _serve_threads()


def test_a_port_in_use_is_a_one_line_error_naming_it(bikes: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        pipe = Pipeline(source=("video", {"path": str(bikes), "stop": 3}), sinks=[ServeSink(port=port, announce=False)])
        with pytest.raises(ConfigError) as info:
            pipe.run()
    finally:
        taken.close()
    message = str(info.value)
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in message and "\n" not in message
    assert "sinks[0]" in message and "port" in message
    assert not _serve_threads()


def test_the_page_its_state_and_the_frames_are_served(bikes: Path) -> None:
    sink = ServeSink(port=0, linger=60, announce=False)
    pipe = _street(bikes, sink, start=137, stop=160)
    pipe.run()
    try:
        page = _get(sink.url or "").decode()
        assert "drid <span>live</span>" in page and "/static/live.js" in page and "//cdn" not in page and "https://" not in page
        assert b"viewerId" in _get(f"{sink.url}static/live.js")
        state = json.loads(_get(f"{sink.url}api/state"))
        assert state["status"] == "done"
        assert state["summary"]["frames_out"] == 23
        assert [s for s in state["summary"]["stages"]] == ["source", "detect", "interpret", "decide", "sink"]
        assert all("waiting" in s for s in state["summary"]["stages"].values())
        (source,) = state["sources"]
        assert source["frames"] == 23 and source["latest"]["decision"]["action"] in ("GO", "SLOW", "STOP")
        assert source["latest"]["decision"]["rationale"]
        assert [d["action"] for d in source["decisions"]][-2:] == ["STOP", "GO"]  # newest first: GO, then STOP at frame 11
        assert "road" in source["zones"]
        # A frame: the last one, annotated, as a JPEG of the clip's size.
        with urllib.request.urlopen(f"{sink.url}frame/0", timeout=20) as answer:
            assert answer.status == 200 and answer.headers["X-Frame-Index"] == "22"
            image = cv2.imdecode(np.frombuffer(answer.read(), np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (272, 640, 3)
    finally:
        sink.close()
    assert not _serve_threads()


def test_serve_params_are_checked_like_any_plugins() -> None:
    with pytest.raises(ConfigError, match="port"):
        ServeSink(port=70000)
    with pytest.raises(ConfigError, match="max_fps"):
        ServeSink(max_fps=0)


def test_the_stills_of_a_folder_share_one_view() -> None:
    sink = ServeSink(port=0, linger=60, announce=False)
    pipe = Pipeline(source=("images", {"path": "pkg:skimage/data/[acc]*.png"}), sinks=[sink])
    pipe.run()
    try:
        state = json.loads(_get(f"{sink.url}api/state"))
    finally:
        sink.close()
    (view,) = state["sources"]
    assert view["frames"] == pipe.summary.frames_out >= 2 and view["name"].endswith("data")
