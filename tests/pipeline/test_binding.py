"""The one way a hook is called: any subset of a spec's arguments, in a pipeline (both modes) and in
a Ray stage actor; names that do not depend on how a plugin was built; errors that name the
plugin's place in the config; fresh stats for every run."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT
from hook_subsets import SubsetDetector, SubsetInterpreter, SubsetPolicy, SubsetRecognizer, SubsetSink

from drid import Decision, Pipeline, hookimpl
from drid.detect.motion import MotionDetector
from drid.errors import ConfigError, StageError
from drid.testing import BrightRegion, CounterWorld, SyntheticSource


@pytest.mark.parametrize("mode", ["sequential", "concurrent"])
def test_hooks_may_take_any_subset_of_their_arguments(mode):
    detector, sink = SubsetDetector(), SubsetSink()
    pipe = Pipeline(source=SyntheticSource(n=5), detect=[detector], recognize=[SubsetRecognizer()], interpret=[SubsetInterpreter()],
                    decide=SubsetPolicy(), sinks=[sink], mode=mode)
    records = list(pipe)
    assert len(records) == 5 and detector.calls == 5 and sink.written == 5
    assert (detector.started, detector.stopped) == (1, 1)
    for r in records:
        assert [(d.label, d.plugin) for d in r.detections] == [("thing", "subset-detector")]
        assert [x.label for x in r.recognitions] == ["seen"]  # drid_start(self) ran before the first frame
        assert r.scene is not None and r.scene.facts == ("1 objects",)
        assert r.decision is not None and r.decision.action == "wave" and r.decision.plugin == "subset-policy"


def test_python_built_and_config_built_plugins_get_the_same_name():
    def detect_names(**detect):
        pipe = Pipeline(source=SyntheticSource(n=1), **detect) if "detect" in detect else Pipeline.from_config({"source": "drid.testing:SyntheticSource", **detect["config"]})
        return [m.name for s in pipe.stages for m in s.members]

    # the entry-point name, whether given an instance, a class or a config entry
    assert detect_names(detect=[MotionDetector()]) == detect_names(detect=[MotionDetector]) == detect_names(config={"detect": ["motion"]}) == ["motion"]
    # not registered: its drid_name, else its class name in kebab case
    assert detect_names(detect=[BrightRegion()]) == ["bright-region"]
    assert detect_names(detect=[SubsetDetector(), SubsetDetector]) == ["subset-detector", "subset-detector#2"]
    # a config's name wins
    assert detect_names(config={"detect": [{"plugin": "motion", "name": "movers"}]}) == ["movers"]


class Boom:
    @hookimpl
    def drid_detect(self, frame):
        raise RuntimeError(f"no luck on {frame.index}")


def test_a_stage_error_names_the_plugins_config_path():
    pipe = Pipeline(source=SyntheticSource(n=3, source="cam"), detect=[BrightRegion(), Boom()])
    with pytest.raises(StageError, match=r"^detect\[1\]: stage 'detect', plugin 'boom', frame cam#0: RuntimeError: no luck on 0$") as info:
        pipe.run()
    assert (info.value.path, info.value.stage, info.value.plugin) == ("detect[1]", "detect", "boom")


class StrictLearner:
    """A policy whose drid_learn refuses a transition with ConfigError, mid-run."""

    @hookimpl
    def drid_decide(self) -> Decision:
        return Decision(action=1)

    @hookimpl
    def drid_learn(self, transition) -> None:
        if transition.step >= 2:
            raise ConfigError("learning rate too high for this world")


class StrictSink:
    @hookimpl
    def drid_write(self, record) -> None:
        if record.frame.index == 1:
            raise ConfigError("cannot write here")


def test_a_config_error_raised_mid_run_is_a_stage_error_naming_the_plugin():
    pipe = Pipeline(source=CounterWorld(steps=6), decide=StrictLearner())
    with pytest.raises(StageError, match=r"^decide: stage 'decide', plugin 'strict-learner', frame counter-world#1: drid_learn failed: ConfigError: learning rate"):
        pipe.run()
    assert pipe.summary.frames_out == 1
    with pytest.raises(StageError, match=r"^sinks\[0\]: stage 'sink', plugin 'strict-sink', frame synthetic#1: ConfigError: cannot write here"):
        Pipeline(source=SyntheticSource(n=3), sinks=[StrictSink()]).run()


def test_engine_settings_are_validated_by_the_engine_config():
    with pytest.raises(ConfigError, match=r"^engine.mode: Input should be 'sequential' or 'concurrent' \(got 'parallel'\)"):
        Pipeline(source=SyntheticSource(n=1), mode="parallel")
    with pytest.raises(ConfigError, match=r"^engine.on_error.source: Input should be 'fail', 'skip' or 'continue' \(got 'ignore'\)"):
        Pipeline(source=SyntheticSource(n=1), on_error="ignore")
    with pytest.raises(ConfigError, match=r"^engine.queue_size: Input should be greater than or equal to 1 \(got 0\)"):
        Pipeline(source=SyntheticSource(n=1), queue_size=0)
    assert Pipeline(source=SyntheticSource(n=1), on_error={"detect": "skip"}).engine.policy("detect") == "skip"


def test_each_run_gets_fresh_stats_and_leaves_the_last_summary_alone():
    pipe = Pipeline(source=SyntheticSource(n=4), detect=[BrightRegion()])
    first = pipe.run()
    second = pipe.run()
    assert first is not second
    for summary in (first, second):
        detect = summary.stages["detect"]
        assert detect.frames_in == 4 and detect.plugins["bright-region"].calls == 4
        assert summary.stages["source"].plugins["synthetic"].calls == 4


def test_hook_subsets_in_a_ray_stage_actor(ray_cluster, tmp_path, monkeypatch):
    from drid.pipeline.backends import Shard, run_sharded

    # Ray workers start in the driver's working directory with it on sys.path: from the repository
    # root, tests.hook_subsets imports there as it does here.
    monkeypatch.syspath_prepend(str(ROOT))

    data = {
        "source": {"plugin": "drid.testing:SyntheticSource", "params": {"n": 4}},
        "detect": [{"plugin": "tests.hook_subsets:SubsetDetector", "actor": {"num_cpus": 0, "max_batch": 2, "wait_ms": 5}}],
        "recognize": [{"plugin": "tests.hook_subsets:SubsetRecognizer", "name": "subset", "actor": {"num_cpus": 0, "max_batch": 2, "wait_ms": 5}}],
        "sinks": [{"plugin": "jsonl", "params": {"path": str(tmp_path / "{shard}.jsonl")}}],
    }
    result = run_sharded(data, [Shard("a", ())], backend="ray")
    assert result.ok, result.table()
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert [d["label"] for d in row["detections"]] == ["thing"]
        assert [(r["label"], r["plugin"]) for r in row["recognitions"]] == [("seen", "subset")]  # drid_start(self) ran in the actor
    assert sorted(a["calls"] for a in result.actors) == [4, 4]
