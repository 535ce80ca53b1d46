"""The staged engine: modes, ordering, attribution, error policies, wrappers, lifecycle, drops."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from drid import BoundingBox, Decision, Detection, Frame, Pipeline, Recognition, Scene, hookimpl
from drid.errors import ConfigError, SourceError, StageError
from drid.testing import CollectSink, CounterWorld, ListSource, SyntheticSource


def box(x1, y1, x2, y2):
    return BoundingBox(x1=x1, y1=y1, x2=x2, y2=y2)


class BrightSquare:
    """Finds the bright square SyntheticSource draws (real work on real pixels)."""

    drid_name = "bright"

    @hookimpl
    def drid_detect(self, frame):
        ys, xs = np.nonzero(frame.image[:, :, 0] > 128)
        if len(xs) == 0:
            return []
        return [Detection(box=box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), label="square", score=1.0)]


class Parity:
    @hookimpl
    def drid_recognize(self, frame, detections):
        return [Recognition(detection=i, label="even" if frame.index % 2 == 0 else "odd", score=0.9) for i, _ in enumerate(detections)]


class Narrator:
    @hookimpl
    def drid_interpret(self, frame, objects):
        return Scene(facts=tuple(f"{o.label} at x={o.box.x1:.0f}" for o in objects))


class Mover:
    @hookimpl
    def drid_decide(self, frame, scene):
        return Decision(action="LEFT" if scene.objects and scene.objects[0].box.x1 > 20 else "RIGHT", rationale="; ".join(scene.facts))


def four_stage(mode="sequential", n=30, **kw):
    sink = CollectSink()
    pipe = Pipeline(source=SyntheticSource(n=n), detect=[BrightSquare()], recognize=[Parity()], interpret=[Narrator()], decide=Mover(), sinks=[sink], mode=mode, **kw)
    return pipe, sink


def strip(record):
    """A record without timings (which differ between runs) for equality checks."""
    return record.model_dump(mode="json", exclude={"timings_ms"})


def test_both_modes_give_identical_records_in_frame_order():
    seq, seq_sink = four_stage("sequential")
    con, con_sink = four_stage("concurrent", queue_size=2)
    a = list(seq)
    b = list(con)
    assert [r.frame.index for r in b] == list(range(30))
    assert [strip(r) for r in a] == [strip(r) for r in b]
    assert [strip(r) for r in seq_sink.records] == [strip(r) for r in a]
    # the pipeline really ran: square found, recognized, interpreted, decided on
    r = a[15]
    assert r.detections[0].box == box(30, 18, 42, 30) and r.detections[0].plugin == "bright"
    assert r.recognitions[0].label == "odd" and r.recognitions[0].plugin == "parity"
    assert r.scene.objects[0].label == "odd" and r.scene.facts == ("odd at x=30",)
    assert r.decision.action == "LEFT" and r.decision.plugin == "mover"
    assert set(r.timings_ms) == {"detect", "recognize", "interpret", "decide"}


def test_summary_counts_balance_and_lifecycle_runs():
    pipe, sink = four_stage("concurrent")
    summary = pipe.run()
    assert sink.started and sink.stopped and sink.summary is summary
    assert summary.frames_read == summary.frames_out == 30 and summary.balanced
    for name in ("detect", "recognize", "interpret", "decide"):
        st = summary.stages[name]
        assert (st.frames_in, st.frames_out, st.latency.count) == (30, 30, 30)
    assert summary.stages["detect"].plugins["bright"].items == 30
    table = summary.table()
    assert "bright" in table and "30 frames read, 30 written, 0 dropped" in table


class Flaky:
    """Raises on every third frame."""

    def __init__(self, kind=RuntimeError):
        self.kind = kind

    @hookimpl
    def drid_detect(self, frame):
        if frame.index % 3 == 0:
            raise self.kind(f"bad frame {frame.index}")
        return [Detection(box=box(0, 0, 1, 1), label="ok")]


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_fail_policy_names_plugin_stage_and_frame_and_closes_sinks(mode):
    sink = CollectSink()
    frames = [Frame(index=i, source="clip.mp4") for i in range(1, 10)]
    pipe = Pipeline(source=ListSource(frames), detect=[Flaky()], sinks=[sink], mode=mode)
    with pytest.raises(StageError, match=r"stage 'detect', plugin 'flaky', frame clip.mp4#3: RuntimeError: bad frame 3"):
        pipe.run()
    assert sink.stopped
    s = pipe.summary
    assert s.balanced and s.frames_out == 2 and s.drops["run failed on this frame"] == 1
    assert s.stages["detect"].failed == 1 and s.error


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_skip_policy_drops_the_frame_with_a_reason(mode):
    sink = CollectSink()
    frames = [Frame(index=i) for i in range(12)]
    pipe = Pipeline(source=ListSource(frames), detect=[Flaky()], sinks=[sink], mode=mode, on_error={"detect": "skip"})
    summary = pipe.run()
    assert [r.frame.index for r in sink.records] == [i for i in range(12) if i % 3]
    assert summary.frames_read == 12 and summary.frames_out == 8 and summary.balanced
    assert summary.drops == {"skipped by policy: detect/flaky raised RuntimeError": 4}
    assert summary.stages["detect"].dropped == 4


def test_continue_policy_keeps_the_frame_without_that_plugin_and_records_the_fault():
    good = BrightSquare()
    pipe = Pipeline(source=SyntheticSource(n=6), detect=[Flaky(), good], on_error="continue")
    records = list(pipe)
    assert len(records) == 6
    r0 = records[0]
    assert [d.plugin for d in r0.detections] == ["bright"]
    assert r0.faults[0].model_dump() == {"stage": "detect", "plugin": "flaky", "error": "RuntimeError", "message": "RuntimeError: bad frame 0"}
    assert [d.plugin for d in records[1].detections] == ["flaky", "bright"] and not records[1].faults
    assert pipe.summary.stages["detect"].plugins["flaky"].failures == 2


class WrongType:
    @hookimpl
    def drid_detect(self, frame):
        return [{"box": [0, 0, 1, 1], "label": "x"}]


class ReturnsNone:
    @hookimpl
    def drid_decide(self, frame, scene):
        return "GO"


def test_wrong_return_type_is_attributed():
    pipe = Pipeline(source=SyntheticSource(n=2, source="cam"), detect=[WrongType()])
    with pytest.raises(StageError, match=r"stage 'detect', plugin 'wrong-type', frame cam#0: returned an invalid list\[Detection\]: \[0\]\.box"):
        pipe.run()
    pipe = Pipeline(source=SyntheticSource(n=2, source="cam"), decide=ReturnsNone())
    with pytest.raises(StageError, match=r"plugin 'returns-none'.*returned an invalid Decision"):
        pipe.run()


class Both:
    """Implements detect and decide; listed under one stage it must serve that stage only."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def drid_detect(self, frame):
        self.calls.append("detect")
        return []

    @hookimpl
    def drid_decide(self, frame, scene):
        self.calls.append("decide")
        return Decision(action=0)


def test_a_plugin_takes_part_only_in_the_stage_it_is_listed_under():
    both = Both()
    records = list(Pipeline(source=SyntheticSource(n=3), detect=[both]))
    assert both.calls == ["detect"] * 3 and all(r.decision is None for r in records)
    other = Both()
    records = list(Pipeline(source=SyntheticSource(n=2), decide=other))
    assert other.calls == ["decide"] * 2 and records[0].decision.action == 0


class Tracker:
    """A detect-stage wrapper: numbers detections across the whole stage's output."""

    def __init__(self):
        self.seen = []

    @hookimpl(wrapper=True)
    def drid_detect(self, frame):
        parts = yield
        self.seen.append([len(p) for p in parts])
        flat = [d for p in parts for d in p]
        return [[d.model_copy(update={"track_id": i}) for i, d in enumerate(flat)]]


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_wrappers_see_the_whole_stage_and_keep_attribution(mode):
    tracker = Tracker()
    pipe = Pipeline(source=SyntheticSource(n=4), detect=[BrightSquare(), tracker, BrightSquare()], mode=mode)
    records = list(pipe)
    assert tracker.seen == [[1, 1]] * 4
    assert [(d.plugin, d.track_id) for d in records[0].detections] == [("bright", 0), ("bright#2", 1)]
    assert pipe.summary.stages["detect"].plugins["tracker"].calls == 4


class Misspelled:
    @hookimpl
    def drid_detekt(self, frame):
        return []


def test_misspelled_hook_is_an_error_not_silence():
    with pytest.raises(ConfigError, match=r"detect\[0\]: plugin 'misspelled' implements unknown hook 'drid_detekt' \(did you mean 'drid_detect'"):
        Pipeline(source=SyntheticSource(n=1), detect=[Misspelled()])


def test_plugin_in_the_wrong_place_is_a_config_error():
    with pytest.raises(ConfigError, match=r"detect\[0\]: plugin 'collect' cannot be used as detect: it has no drid_detect hook \(it can be used as: sink\)"):
        Pipeline(source=SyntheticSource(n=1), detect=[CollectSink()])


class ExplodingSource:
    @hookimpl
    def drid_frames(self):
        for i in range(5):
            if i == 3:
                raise OSError("disk gone")
            yield SyntheticSource().frame(i)


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_source_failure_drains_and_closes_sinks(mode):
    sink = CollectSink()
    pipe = Pipeline(source=ExplodingSource(), detect=[BrightSquare()], sinks=[sink], mode=mode)
    with pytest.raises(SourceError, match=r"source 'exploding-source' failed after 3 frames: OSError: disk gone"):
        pipe.run()
    assert sink.stopped and len(sink.records) == 3 and pipe.summary.balanced


class Interrupting:
    """Raises KeyboardInterrupt at one frame, as Ctrl-C would in the middle of a stage."""

    def __init__(self, at):
        self.at = at

    @hookimpl
    def drid_detect(self, frame):
        if frame.index == self.at:
            raise KeyboardInterrupt
        return []


def test_ctrl_c_in_sequential_mode_stops_cleanly_and_counts():
    sink = CollectSink()
    pipe = Pipeline(source=SyntheticSource(n=50), detect=[Interrupting(at=10)], sinks=[sink])
    summary = pipe.run()
    assert summary.interrupted and sink.stopped
    assert len(sink.records) == 10 and summary.frames_read == 11 and summary.drops == {"interrupted": 1}
    assert summary.balanced


def test_ctrl_c_in_concurrent_mode_drains_in_flight_frames():
    sink = CollectSink()
    pipe = Pipeline(source=SyntheticSource(n=200), detect=[BrightSquare()], recognize=[Parity()], sinks=[sink], mode="concurrent", queue_size=3)
    gen = pipe.records()
    got = [next(gen) for _ in range(5)]
    got.append(gen.throw(KeyboardInterrupt))  # Ctrl-C while the caller held record 4; draining goes on
    rest = list(gen)
    summary = pipe.summary
    assert summary.interrupted and sink.stopped and summary.balanced
    assert summary.frames_read < 200
    # frames in flight were finished and written, in order, not lost
    assert [r.frame.index for r in got + rest] == list(range(len(got) + len(rest)))
    assert summary.frames_out == len(sink.records) and not summary.drops


class Slow:
    def __init__(self, seconds):
        self.seconds = seconds

    @hookimpl
    def drid_detect(self, frame):
        time.sleep(self.seconds)
        return []


def test_concurrent_backpressure_bounds_frames_in_flight():
    src = SyntheticSource(n=40)
    reads = []
    orig = src.frame

    def counting(i):
        reads.append(i)
        return orig(i)

    src.frame = counting
    pipe = Pipeline(source=src, detect=[Slow(0.002)], mode="concurrent", queue_size=2)
    max_ahead = 0
    for rec in pipe:
        max_ahead = max(max_ahead, len(reads) - rec.frame.index)
    # source queue (2) + detect's frame + output queue (2) + the one being put: never the whole file
    assert max_ahead <= 2 + 1 + 2 + 2


def test_live_source_drop_oldest_counts_every_drop():
    frames = [Frame(index=i, source="cam") for i in range(60)]
    sink = CollectSink()
    pipe = Pipeline(source=ListSource(frames, live=True), detect=[Slow(0.01)], sinks=[sink], mode="concurrent", queue_size=2, overflow="drop-oldest")
    summary = pipe.run()
    assert summary.frames_read == 60 and summary.balanced
    dropped = summary.frames_dropped
    assert dropped > 0 and summary.frames_out == 60 - dropped
    (reason,) = summary.drops
    assert reason.startswith("drop-oldest")
    indexes = [r.frame.index for r in sink.records]
    assert indexes == sorted(indexes) and indexes[-1] == 59  # newest frames survive, in order


def test_files_never_drop_even_with_drop_oldest():
    pipe = Pipeline(source=SyntheticSource(n=20), detect=[Slow(0.002)], mode="concurrent", queue_size=1, overflow="drop-oldest")
    summary = pipe.run()
    assert summary.frames_out == 20 and not summary.drops
    assert any("not live" in n for n in summary.notes)


def test_concurrent_mode_overlaps_stages_that_release_the_gil():
    # Two sleeping stages of 5 ms: sequential needs ~10 ms per frame, concurrent ~5 ms. We check
    # overlap by observing both stages busy at the same moment, not by timing.
    active = set()
    both = threading.Event()

    class Busy:
        def __init__(self, tag):
            self.tag = tag

        def work(self):
            active.add(self.tag)
            if len(active) == 2:
                both.set()
            time.sleep(0.005)
            active.discard(self.tag)

    class A(Busy):
        @hookimpl
        def drid_detect(self, frame):
            self.work()
            return []

    class B(Busy):
        @hookimpl
        def drid_recognize(self, frame, detections):
            self.work()
            return []

    Pipeline(source=SyntheticSource(n=20), detect=[A("a")], recognize=[B("b")], mode="concurrent").run()
    assert both.is_set()
    assert threading.active_count() == 1 or all(not t.name.startswith("drid-") for t in threading.enumerate())


def test_no_threads_left_behind_after_an_early_break():
    pipe = Pipeline(source=SyntheticSource(n=100), detect=[BrightSquare()], mode="concurrent")
    for rec in pipe:
        if rec.frame.index == 3:
            break
    pipe.close()
    time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("drid-")]
    assert pipe.summary.balanced and pipe.summary.drops == {"consumer stopped early": pipe.summary.frames_read - 4}


class Learner:
    def __init__(self):
        self.transitions = []

    @hookimpl
    def drid_decide(self, frame, scene):
        return Decision(action=int(frame.observation[0]) + 1)

    @hookimpl
    def drid_learn(self, transition):
        self.transitions.append(transition)


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_closed_loop_applies_each_decision_before_the_next_frame(mode):
    world = CounterWorld(steps=10, episode_length=4)
    learner = Learner()
    pipe = Pipeline(source=world, decide=learner, mode=mode)
    records = list(pipe)
    # observation counts steps within an episode; the policy acts obs+1
    assert world.actions == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]
    assert [t.action for t in learner.transitions] == world.actions
    assert [t.truncated for t in learner.transitions] == [False, False, False, True] * 2 + [False, False]
    assert [r.transition.reward for r in records] == [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0]
    assert learner.transitions[3].next_observation.tolist() == [4.0]
    loop = pipe.summary.stages["act"]  # the closed loop's own costs, in the summary table
    assert (loop.frames_in, loop.frames_out) == (10, 10)
    assert loop.plugins["counter-world:act"].calls == 10 and loop.plugins["learner:learn"].calls == 10
    assert "counter-world:act" in pipe.summary.table()


def test_max_frames_and_expected_frames():
    pipe = Pipeline(source=SyntheticSource(n=50), max_frames=7)
    with pipe:
        assert pipe.expected_frames == 7
        assert len(list(pipe.records())) == 7


def test_start_failure_stops_already_started_plugins():
    class BadStart:
        @hookimpl
        def drid_start(self, context):
            raise RuntimeError("no model file")

        @hookimpl
        def drid_detect(self, frame):
            return []

    sink = CollectSink()
    pipe = Pipeline(source=SyntheticSource(n=3), detect=[BadStart()], sinks=[sink])
    with pytest.raises(Exception, match=r"plugin 'bad-start' \(detect\) failed to start: RuntimeError: no model file"):
        pipe.run()
    assert not sink.started  # sinks start after stages; nothing to stop
    assert not pipe._running


def test_recognition_must_point_at_an_existing_detection():
    class OffByOne:
        @hookimpl
        def drid_recognize(self, detections):
            return [Recognition(detection=len(detections), label="x", score=1)]

    pipe = Pipeline(source=SyntheticSource(n=2), detect=[BrightSquare()], recognize=[OffByOne()])
    with pytest.raises(StageError, match="refers to detection 1 but the frame has 1"):
        pipe.run()


def test_latency_histogram_percentiles_bound_the_true_values():
    import random

    from drid.pipeline.stats import LatencyHistogram

    rng = random.Random(1)
    values = sorted(rng.lognormvariate(-7, 1.5) for _ in range(20_000))
    h = LatencyHistogram()
    for v in values:
        h.record(v)
    assert h.count == 20_000 and h.maximum == values[-1] and h.minimum == values[0]
    for q in (50, 90, 99):
        true = values[int(len(values) * q / 100) - 1]
        assert true <= h.percentile(q) <= true * 1.25  # never under-reports; one bucket at most
    assert h.percentile(100) == values[-1]


class SceneStamp:
    """An interpret-stage wrapper, to run beside a detect-stage wrapper."""

    @hookimpl(wrapper=True)
    def drid_interpret(self, frame, objects):
        scenes = yield
        return [s.model_copy(update={"situations": ("stamped",)}) for s in scenes]


class NoArgLifecycle:
    def __init__(self):
        self.events = []

    @hookimpl
    def drid_start(self):
        self.events.append("start")

    @hookimpl
    def drid_detect(self):
        return []

    @hookimpl
    def drid_stop(self):
        self.events.append("stop")


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_wrappers_on_two_stages_stay_in_their_own_stage(mode):
    tracker = Tracker()
    records = list(Pipeline(source=SyntheticSource(n=3), detect=[BrightSquare(), tracker], interpret=[Narrator(), SceneStamp()], mode=mode))
    assert tracker.seen == [[1]] * 3
    assert records[0].scene.situations == ("stamped",) and records[0].scene.facts == ("square at x=0",)


def test_hooks_may_take_any_subset_of_their_arguments():
    plugin = NoArgLifecycle()
    Pipeline(source=SyntheticSource(n=2), detect=[plugin]).run()
    assert plugin.events == ["start", "stop"]


class _RefusesToStart:
    """A detector whose drid_start raises a drid error without naming itself (as plugins should)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    @hookimpl
    def drid_start(self):
        raise self.error

    @hookimpl
    def drid_detect(self, frame):
        return []


@pytest.mark.parametrize("error", [ConfigError("model file not found: 'm.keras'"), SourceError("camera 3 does not open")])
def test_a_drid_error_at_start_names_the_plugin_and_its_place(error):
    with pytest.raises(type(error)) as caught:
        Pipeline(source=SyntheticSource(n=2), detect=[BrightSquare(), _RefusesToStart(error)]).run()
    text = str(caught.value)
    assert text.startswith("detect[1]: plugin 'refuses-to-start': ")
    assert text.endswith(str(error))


@pytest.mark.parametrize("entry, where", [({"plugin": "blobs", "interval": 0}, "detect[0].interval"), ({"plugin": "blobs", "on_eror": "skip"}, "detect[0].on_eror")])
def test_a_bad_entry_given_as_a_mapping_in_python_is_a_config_error_naming_its_key(entry, where):
    with pytest.raises(ConfigError) as caught:
        Pipeline(source=SyntheticSource(n=1), detect=[entry])
    assert str(caught.value).startswith(where + ":"), str(caught.value)
