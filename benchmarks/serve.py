"""What the live view costs: the video demo's pipeline (motion + hog-people + tracker, the street
classifier, the street's relations and rules, its three file sinks) on bikes.mp4, with and
without a ``serve`` sink that one viewer watches, in the same run, alternating A B B A.

The viewer is a separate process reading the MJPEG stream as fast as it comes (a browser on
another machine, say). Frames/s is measured from the first frame written to the last (model
loading and the wait for the viewer are left out). With ``--screenshot PATH`` a last run is
watched by headless Chromium (Debian's ``/usr/bin/chromium``) and the page is saved mid-run
(``PATH-running.png``) and at the end (``PATH``).

    python benchmarks/serve.py [--frames 120] [--pairs 1] [--screenshot docs/images/live-video-demo.png]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from drid.demos.video import DEFAULT_SHOT, default_clip, demo_scene
from drid.pipeline import Pipeline
from drid.sinks.serve import ServeSink

_VIEWER = r"""
import sys, urllib.request
n = 0
with urllib.request.urlopen(sys.argv[1], timeout=120) as r:
    while True:
        chunk = r.read(65536)
        if not chunk:
            break
        n += chunk.count(b"--drid-frame")
print(n)
"""


def demo(target: Path, start: int, frames: int, serve: ServeSink | None) -> Pipeline:
    """The video demo's pipeline (drid.demos.video.demo_pipeline) with an optional serve sink."""
    plan = demo_scene(None)
    drawn = {"zones": plan.zones, "lines": plan.lines}
    sinks: list[Any] = [
        ("jsonl", {"path": str(target / "records.jsonl")}),
        ("annotated-video", {"path": str(target / "annotated.mp4"), **drawn}),
        ("frames", {"path": str(target / "frames"), "every": 10, **drawn}),
    ]
    if serve is not None:
        sinks.append(serve)
    return Pipeline(name="demo-video", source=("video", {"path": str(default_clip()), "start": start}), detect=plan.stages["detect"],
                    recognize=plan.stages["recognize"], interpret=plan.stages["interpret"], decide=plan.stages["decide"][0],
                    sinks=sinks, mode="concurrent", max_frames=frames)


def measured(pipe: Pipeline) -> tuple[float, float]:
    """Frames/s from the first frame written to the last, and the process's CPU milliseconds per
    frame over the same span (all its threads: the pipeline's, the server's, the encoder's).
    On a shared machine the CPU time is the steadier of the two: other processes' load slows the
    clock, not the work done per frame."""
    times: list[tuple[float, float]] = []
    pipe.run(on_record=lambda _r: times.append((time.perf_counter(), time.process_time())))
    (w0, c0), (w1, c1) = times[0], times[-1]
    return (len(times) - 1) / (w1 - w0), 1e3 * (c1 - c0) / (len(times) - 1)


def served_run(target: Path, start: int, frames: int) -> tuple[tuple[float, float], str]:
    zones, lines = demo_scene(None).zones, demo_scene(None).lines
    sink = ServeSink(port=0, wait_for_viewer=120, announce=False, zones=zones, lines=lines)
    pipe = demo(target, start, frames, sink)
    viewer: subprocess.Popen[str] | None = None
    import threading

    def connect() -> None:
        nonlocal viewer
        while sink.port is None:
            time.sleep(0.05)
        viewer = subprocess.Popen([sys.executable, "-c", _VIEWER, f"{sink.url}stream/0.mjpg"], stdout=subprocess.PIPE, text=True)

    threading.Thread(target=connect, daemon=True).start()
    fps = measured(pipe)
    assert viewer is not None
    got = viewer.communicate(timeout=60)[0].strip()
    note = next(n for n in pipe.summary.notes if n.startswith("serve:"))
    return fps, f"viewer received {got} preview frames; {note.split(' ', 2)[2]}"


def screenshot(target: Path, path: Path) -> None:
    from playwright.sync_api import sync_playwright

    zones, lines = demo_scene(None).zones, demo_scene(None).lines
    sink = ServeSink(port=0, wait_for_viewer=120, linger=120, announce=False, zones=zones, lines=lines)
    pipe = demo(target, DEFAULT_SHOT["start"], DEFAULT_SHOT["stop"] - DEFAULT_SHOT["start"], sink)
    import threading

    runner = threading.Thread(target=pipe.run, daemon=True)
    runner.start()
    while sink.url is None:
        time.sleep(0.05)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", headless=True, viewport={"width": 1440, "height": 1100},
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.goto(sink.url)
        # Mid-run (what an operator sees most of the time), then the run's outcome.
        page.wait_for_function("window.driLive.framesReceived >= 25", timeout=300_000)
        running = path.with_name(f"{path.stem}-running{path.suffix}")
        page.screenshot(path=str(running), full_page=True)
        print(f"wrote {running}")
        page.wait_for_function("document.querySelector('#status').dataset.status === 'done'", timeout=300_000)
        time.sleep(1.5)
        page.screenshot(path=str(path), full_page=True)
        browser.close()
    runner.join()
    sink.close()
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="frames per run (from frame --start of bikes.mp4)")
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=1, help="A B B A blocks (0: only the screenshot)")
    parser.add_argument("--screenshot", type=Path, help="also save the page, watched by headless Chromium, here")
    args = parser.parse_args()
    plain: list[tuple[float, float]] = []
    served: list[tuple[float, float]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp)
        for _ in range(args.pairs):
            for kind in ("plain", "served", "served", "plain"):
                if kind == "plain":
                    plain.append(measured(demo(target, args.start, args.frames, None)))
                    print(f"  without serve: {plain[-1][0]:.2f} frames/s, {plain[-1][1]:.1f} CPU ms/frame", flush=True)
                else:
                    result, note = served_run(target, args.start, args.frames)
                    served.append(result)
                    notes.append(note)
                    print(f"  with serve + 1 viewer: {result[0]:.2f} frames/s, {result[1]:.1f} CPU ms/frame ({note})", flush=True)
        if plain:
            a, b = statistics.mean(f for f, _ in plain), statistics.mean(f for f, _ in served)
            ca, cb = statistics.mean(c for _, c in plain), statistics.mean(c for _, c in served)
            print(f"\nvideo demo pipeline, {args.frames} frames of bikes.mp4 from {args.start}, concurrent, {len(plain)} runs each")
            print(f"{'':<28}{'frames/s':>10}{'ratio':>8}{'CPU ms/frame':>14}{'ratio':>8}")
            print(f"{'without serve':<28}{a:>10.2f}{1.0:>8.3f}{ca:>14.1f}{1.0:>8.3f}")
            print(f"{'with serve, 1 MJPEG viewer':<28}{b:>10.2f}{b / a:>8.3f}{cb:>14.1f}{cb / ca:>8.3f}")
            print(f"serving changes frames/s by {100 * (b / a - 1):+.1f} % and CPU per frame by {100 * (cb / ca - 1):+.1f} % (target: a cost of at most 10 %)")
        if args.screenshot:
            screenshot(target, args.screenshot)


if __name__ == "__main__":
    main()
