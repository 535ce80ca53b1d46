"""``drid run CONFIG --serve``: wrong arguments are one-line errors, and in headless Chromium the
page shows the clip's frames arriving, the stage table updating and the decision changing as the
clip plays (a screenshot is saved)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
DRID = [sys.executable, "-m", "drid.cli"]


def _street_config(folder: Path, **source: Any) -> Path:
    """The video demo's street rules on its clip (bikes.mp4), without sinks."""
    from drid.demos.video import default_clip, street_rules

    data = street_rules()
    data["source"] = {"plugin": "video", "params": {"path": str(default_clip()), **source}}
    data["sinks"] = []
    path = folder / "street.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["--serve", "eighty"], "--serve: expected [HOST:]PORT with PORT a number from 0 to 65535, got 'eighty'"),
    (["--serve", "localhost:99999"], "got 'localhost:99999'"),
    (["--serve-linger", "5"], "--serve-wait and --serve-linger need --serve [HOST:]PORT"),
    (["--serve", "8000", "--serve-wait", "-1"], "--serve-wait: must be from 0 to 86400 seconds"),
    (["--serve", "8000", "--backend", "ray"], "the live view shows one pipeline process"),
])
def test_wrong_serve_arguments_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    from drid.cli import main

    config = _street_config(tmp_path, stop=3)
    try:
        status = main(["run", str(config), *args])
    except SystemExit as exc:  # argparse
        status = int(exc.code or 0)
    err = capsys.readouterr().err
    assert status != 0 and message in err, err
    assert len([ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("usage:", " "))]) == 1, err


def _url(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if "live view at " in line:
            return line.split("live view at ")[1].split()[0]
    raise AssertionError("drid run --serve never said where the page is")


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_page_shows_the_run_live_in_a_real_browser(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    # GO for 19 frames, then STOP when the first car moves in the road; played no faster than
    # the clip's 25 frames/s, so GO lasts longer than the page's half-second poll on any machine.
    config = _street_config(tmp_path, start=130, stop=180, realtime=True)
    proc = subprocess.Popen([*DRID, "run", str(config), "--serve", "127.0.0.1:0", "--serve-wait", "60", "--serve-linger", "60", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    profile = tempfile.mkdtemp(prefix="drid-chromium-")
    decisions: list[str] = []
    detect_in: list[str] = []
    frames: list[int] = []
    try:
        url = _url(proc, time.monotonic() + 120)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, viewport={"width": 1440, "height": 1100},
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"])
            page = browser.new_page()
            page.goto(url)
            deadline = time.monotonic() + 150
            status = ""
            while time.monotonic() < deadline and status != "done":
                status = page.get_attribute("#status", "data-status") or ""
                action = page.inner_text(".view .action")
                if action and (not decisions or decisions[-1] != action):
                    decisions.append(action)
                cell = page.query_selector('tr.stage[data-stage="detect"] td:nth-child(3)')
                if cell is not None and (not detect_in or detect_in[-1] != cell.inner_text()):
                    detect_in.append(cell.inner_text())
                frames.append(int(page.evaluate("window.driLive.framesReceived")))
                time.sleep(0.1)
            time.sleep(1.0)  # the last state and frame
            shot = tmp_path / "live-page.png"
            page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("DRID_LIVE_SCREENSHOT"):
                shutil.copy(shot, os.environ["DRID_LIVE_SCREENSHOT"])
            natural = page.evaluate("document.querySelector('.view img').naturalWidth")
            final_action = page.inner_text(".view .action")
            rationale = page.inner_text(".view .why")
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)  # ends the linger
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
    out, err = proc.communicate()
    assert status == "done", (decisions, detect_in, err[-2000:])
    assert frames[-1] >= 5 and natural == 640  # annotated frames of the clip arrived and were shown
    assert len(set(detect_in)) >= 3 and detect_in[-1] == "50"  # the stage table updated as the clip played
    assert decisions[:2] == ["GO", "STOP"] or decisions[:3] == ["–", "GO", "STOP"], decisions  # the decision changed live
    assert final_action in ("GO", "SLOW", "STOP") and rationale.startswith(final_action)
    assert shot.stat().st_size > 50_000
    assert "50 frames read, 50 written, 0 dropped" in out
    assert proc.returncode in (0, 130)
