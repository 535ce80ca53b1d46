"""The ``relations`` and ``scene-rules`` plugins: scenes from objects placed by hand (exact
relations, events, facts and features), narration without a flood, and both plugins inside a
real pipeline with JSON Lines output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drid import ConfigError, Detection, Frame, Pipeline, hookimpl
from drid.interpret.conditions import SceneView, parse_condition
from drid.interpret.facts import Narrator, count_phrase
from drid.interpret.interpreters import RelationsInterpreter
from drid.interpret.scene_rules import SceneRules
from drid.schemas import BoundingBox, Relation, Scene
from drid.testing import CollectSink, ListSource, scene_object


def walk(k):
    """A person walking right at 100 px/s (10 px per frame at 10 fps) towards a parked car."""
    return [scene_object(1, "person", (100 + 10 * k, 200, 140 + 10 * k, 300)), scene_object(2, "car", (400, 220, 560, 300))]


def test_relations_scene_from_objects_placed_by_hand():
    interp = RelationsInterpreter(temporal={"min_frames": 3})
    scenes = [interp.interpret(k / 10, walk(k)) for k in range(25)]
    assert scenes[0].relations == () and scenes[1].relations == ()  # unconfirmed tracks do not count yet
    assert [e.name for e in scenes[2].events] == ["appeared", "appeared"]
    last = scenes[-1]  # person at x 340..380, car at 400..560
    rel = {(r.subject, r.predicate, r.object) for r in last.relations}
    assert {(1, "left_of", 2), (2, "right_of", 1), (1, "near", 2), (1, "next_to", 2), (1, "approaching", 2)} <= rel
    assert (2, "approaching", 1) not in rel  # the car stands still
    person = next(o for o in last.objects if o.id == 1)
    assert person.attributes["moving"] is True
    assert person.attributes["speed_px_s"] == pytest.approx(100.0)
    assert person.attributes["age_s"] == pytest.approx(2.4)
    assert "speed_m_s" not in person.attributes
    car = next(o for o in last.objects if o.id == 2)
    assert car.attributes["moving"] is False
    names = interp.features
    assert names[:6] == ["objects", "moving", "mean_speed", "max_speed", "relations", "events"]
    vec = dict(zip(names, last.features.tolist()))
    assert vec["objects"] == 2 and vec["moving"] == 1 and vec["count:person"] == 1 and vec["count:car"] == 1
    assert vec["max_speed"] == pytest.approx(100.0) and vec["relations"] == len(last.relations)


def test_untracked_objects_get_spatial_relations_only():
    interp = RelationsInterpreter()
    scene = interp.interpret(0.0, [scene_object(0, "cup", (10, 10, 20, 20), tracked=False), scene_object(1, "table", (0, 0, 100, 50), tracked=False)])
    assert {(r.subject, r.predicate, r.object) for r in scene.relations} >= {(0, "inside", 1), (1, "contains", 0)}
    assert scene.events == ()


def test_facts_narrate_without_flooding_and_speak_metres():
    interp = RelationsInterpreter(temporal={"min_frames": 2}, calibration={"pixels_per_metre": 50}, repeat_after=10.0,
                                  zones=[{"name": "kerb", "polygon": [[300, 250], [700, 250], [700, 350], [300, 350]]}])
    per_frame = [interp.interpret(k / 10, walk(k)).facts for k in range(40)]
    told = [f for facts in per_frame for f in facts]
    assert "person 1 appeared" in told and "car 2 appeared" in told
    assert "person 1 is walking right at 2.0 m/s" in told  # 100 px/s at 50 px/m
    assert "car 2 is not moving" in told
    assert "person 1 is walking towards car 2 at 2.0 m/s" in told
    assert "person 1 entered zone 'kerb'" in told
    # A narration: each of these said once in 4 s although it held in most frames.
    assert told.count("person 1 is walking right at 2.0 m/s") == 1
    assert told.count("car 2 is not moving") == 1
    assert sum(len(f) for f in per_frame) < 20
    assert sum(1 for f in per_frame if f) < 12
    assert any("1 car" in f and "in zone 'kerb'" in f for f in told)


def test_narrator_repeats_after_interval_and_after_a_change():
    n = Narrator(repeat_after=5.0, grace=0.5)
    said = []
    for k in range(100):  # 10 s at 10 fps
        t = k / 10
        n.state(("motion", 1), "right" if t < 7 else "left", f"walking {'right' if t < 7 else 'left'}", t)
        said += [(t, f) for f in n.flush(t)]
    assert said == [(0.0, "walking right"), (5.0, "walking right"), (7.0, "walking left")]
    assert count_phrase(1, "person") == "1 person" and count_phrase(3, "person") == "3 people" and count_phrase(0, "bus") == "no buses"


def test_counting_line_in_the_plugin_and_its_features():
    interp = RelationsInterpreter(temporal={"min_frames": 2}, lines=[{"name": "gate", "start": [250, 0], "end": [250, 400]}])
    events = []
    for k in range(30):
        scene = interp.interpret(k / 10, walk(k))
        events += [e for e in scene.events if e.name == "crossed_line"]
    assert [(e.objects, e.data["direction"]) for e in events] == [((1,), "rightward")]
    vec = dict(zip(interp.features, scene.features.tolist()))
    assert vec["line:gate:rightward"] == 1 and vec["line:gate:leftward"] == 0


def test_landmark_takes_part_in_relations_and_facts():
    interp = RelationsInterpreter(temporal={"min_frames": 2}, landmarks=[{"label": "table", "box": [400, 220, 560, 300]}])
    facts = []
    for k in range(30):
        scene = interp.interpret(k / 10, [walk(k)[0]])
        facts += scene.facts
    table = next(o for o in scene.objects if o.id == -1)
    assert table.label == "table" and table.attributes["landmark"] is True
    assert "person 1 is walking towards the table at 100 px/s" in facts
    assert "person 1 is next to the table" in facts


def test_interpreters_built_in_python_are_checked_like_ones_from_a_config():
    for cls, name, params, path in (
        (RelationsInterpreter, "relations", {"repeat_after": 0}, "repeat_after"),
        (RelationsInterpreter, "relations", {"narrate": ["aproaching"]}, "narrate"),
        (SceneRules, "scene-rules", {"situations": {}}, "situations"),
    ):
        with pytest.raises(ConfigError) as in_python:
            cls(**params)
        with pytest.raises(ConfigError) as in_config:
            Pipeline(source=ListSource([]), interpret=[(name, params)])
        assert in_python.value.message == in_config.value.message
        assert (in_python.value.path, in_config.value.path) == (f"params.{path}", f"interpret[0].params.{path}")


def test_bad_parameters_are_refused_with_their_location():
    from drid.pipeline.registry import default_registry

    info = default_registry().get("relations")
    with pytest.raises(ConfigError, match=r"interpret\[0\]\.params\.narrate.*did you mean 'approaching'"):
        info.validate_params({"narrate": ["aproaching"]}, path="interpret[0].params")
    with pytest.raises(ConfigError, match=r"params\.zones\[0\]\.polygon: .*at least 3 points"):
        info.validate_params({"zones": [{"name": "z", "polygon": [[0, 0]]}]}, path="interpret[0].params")
    with pytest.raises(ConfigError, match="unknown parameter.*did you mean 'zones'"):
        info.validate_params({"zone": []}, path="interpret[0].params")
    with pytest.raises(ConfigError, match="unique"):
        info.validate_params({"lines": [{"name": "a", "start": [0, 0], "end": [1, 1]}] * 2}, path="interpret[0].params")


# -- the condition language ---------------------------------------------------------------------


def scene_for_conditions() -> Scene:
    return Scene(
        objects=(
            scene_object(1, "person", (0, 0, 10, 30), moving=True, speed_px_s=50.0, speed_m_s=1.4, zones={"road": 3.5}, age_s=4.0),
            scene_object(2, "car", (20, 0, 60, 20), moving=False, speed_px_s=0.0, zones={}),
            scene_object(3, "person", (100, 0, 110, 30), moving=False, zones={}),
        ),
        relations=(Relation(subject=1, predicate="near", object=2, confidence=0.8), Relation(subject=2, predicate="right_of", object=1, confidence=0.9)),
        situations=("busy",),
    )


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"label": "person"}, True),
        ({"label": "bicycle"}, False),
        ({"objects": {"label": "person", "at_least": 2}}, True),
        ({"objects": {"label": "person", "at_least": 3}}, False),
        ({"objects": {"label": "person", "at_most": 1}}, False),
        ({"objects": {"label": "person", "zone": "road"}}, True),
        ({"objects": {"label": "person", "zone": "road", "min_dwell_s": 5}}, False),
        ({"objects": {"label": "person", "moving": True, "min_speed": 1.0, "unit": "m/s"}}, True),
        ({"objects": {"label": "person", "min_speed": 2.0, "unit": "m/s"}}, False),
        ({"objects": {"label": "car", "min_speed": 1.0, "unit": "km/h"}}, False),  # no metric speed known
        ({"relation": {"subject": "car", "predicate": "near", "object": "person"}}, True),  # symmetric
        ({"relation": {"subject": "person", "predicate": "left_of", "object": "car"}}, True),  # via right_of
        ({"relation": {"subject": "person", "predicate": "near", "object": "car", "min_confidence": 0.9}}, False),
        ({"relation": {"subject": {"label": "person", "moving": False}, "predicate": "near", "object": "car"}}, False),
        ({"situation": "busy"}, True),
        ({"situation": ["quiet", "busy"]}, True),
        ({"not": {"situation": "busy"}}, False),
        ([{"label": "car"}, {"label": "person"}], True),
        ({"any": [{"label": "bicycle"}, {"label": "car"}]}, True),
        ({"all": [{"label": "bicycle"}, {"label": "car"}]}, False),
        ({"objects": {"id": [2, 5], "label": "car"}}, True),
    ],
)
def test_conditions(condition, holds):
    found = parse_condition(condition).test(SceneView(scene_for_conditions()))
    assert (found is not None) == holds


def test_condition_evidence_names_the_facts():
    view = SceneView(scene_for_conditions(), evidence={"busy": ["2 people"]})
    cond = parse_condition({"all": [{"relation": {"subject": "person", "predicate": "near", "object": "car"}}, {"situation": "busy"}]})
    assert cond.test(view) == ["person 1 near car 2 (0.80)", "situation busy (2 people)"]
    assert parse_condition({"objects": {"label": "person", "zone": "road"}}).test(view) == ["person 1 in zone 'road'"]


def test_event_conditions():
    from drid.schemas import Event

    scene = Scene(objects=(scene_object(5, "car", (0, 0, 10, 10)),), events=(Event(name="crossed_line", objects=(5,), data={"line": "gate", "direction": "in"}),))
    view = SceneView(scene)
    assert parse_condition({"event": {"name": "crossed_line", "data": {"line": "gate"}, "object": "car"}}).test(view) == ["car 5 crossed line (line=gate, direction=in)"]
    assert parse_condition({"event": {"name": "crossed_line", "data": {"direction": "out"}}}).test(view) is None
    assert parse_condition({"event": "appeared"}).test(view) is None


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"relation": {"subject": "person", "predicate": "nearr", "object": "car"}}, r"when\.relation\.predicate: unknown predicate 'nearr' \(did you mean 'near'"),
        ({"objects": {"label": "person", "zonee": "road"}}, r"when\.objects: unknown key 'zonee' \(did you mean 'zone'"),
        ({"situaton": "x"}, r"when: unknown condition 'situaton' \(did you mean 'situation'"),
        ({"label": "a", "objects": {}}, "exactly one of"),
        ({"all": []}, r"when\.all: expected a non-empty list"),
        ({"event": {"name": "crosed_line"}}, "did you mean 'crossed_line'"),
        ({"objects": {"label": "person", "at_least": -1}}, "at_least: expected a count"),
        ({"objects": {"moving": "yes"}}, r"moving: expected true or false"),
        ({"objects": {"min_speed": 3, "unit": "mph"}}, "unit: expected one of"),
        ({"any": [{"label": "x"}, {"not": {"relation": {"predicate": "near", "subject": 3}}}]}, r"when\.any\[1\]\.not\.relation\.subject: expected a label"),
    ],
)
def test_condition_mistakes_name_their_location(condition, message):
    with pytest.raises(ValueError, match=message):
        parse_condition(condition)


def test_custom_predicates_of_other_interpreters_are_allowed():
    cond = parse_condition({"relation": {"subject": "person", "predicate": "holding", "object": "cup"}})
    scene = Scene(objects=(scene_object(1, "person", (0, 0, 5, 5)), scene_object(2, "cup", (1, 1, 2, 2))), relations=(Relation(subject=1, predicate="holding", object=2),))
    assert cond.test(SceneView(scene)) == ["person 1 holding cup 2 (1.00)"]


# -- scene-rules --------------------------------------------------------------------------------


def test_scene_rules_start_and_end_situations_with_evidence():
    rules = SceneRules(situations={
        "pedestrian_in_path": {"objects": {"label": "person", "zone": "road"}},
        "danger": {"all": [{"situation": "pedestrian_in_path"}, {"objects": {"label": "car", "moving": True}}]},
    })
    on_road = Scene(objects=(scene_object(1, "person", (0, 0, 1, 1), zones={"road": 0.5}), scene_object(2, "car", (5, 5, 9, 9), moving=True)))
    off_road = Scene(objects=(scene_object(1, "person", (0, 0, 1, 1), zones={}),))
    s1 = rules.evaluate(on_road)
    assert s1.situations == ("pedestrian_in_path", "danger")  # a rule may use an earlier situation
    assert [(e.name, e.data["situation"]) for e in s1.events] == [("situation_started", "pedestrian_in_path"), ("situation_started", "danger")]
    assert s1.events[0].data["because"] == ["person 1 in zone 'road'"]
    assert s1.facts[0] == "situation pedestrian_in_path: person 1 in zone 'road'"
    s2 = rules.evaluate(on_road)
    assert s2.events == () and s2.facts == () and s2.situations == ("pedestrian_in_path", "danger")
    s3 = rules.evaluate(off_road)
    assert s3.situations == ()
    assert [e.name for e in s3.events] == ["situation_ended", "situation_ended"]


def test_scene_rules_refuse_bad_rules():
    from drid.pipeline.registry import default_registry

    info = default_registry().get("scene-rules")
    with pytest.raises(ConfigError, match=r"interpret\[1\]\.params\.situations.*x\.relation\.predicate: unknown predicate 'nexto'"):
        info.validate_params({"situations": {"x": {"relation": {"predicate": "nexto"}}}}, path="interpret[1].params")
    with pytest.raises(ConfigError, match="must be a word"):
        info.validate_params({"situations": {"two words": {"label": "a"}}}, path="interpret[1].params")


# -- in a pipeline ------------------------------------------------------------------------------


class Walkers:
    """Detections of a person walking towards a parked car, with track ids (as a tracker gives)."""

    @hookimpl
    def drid_detect(self, frame: Frame) -> list[Detection]:
        k = frame.index
        return [
            Detection(box=BoundingBox(x1=100 + 10 * k, y1=200, x2=140 + 10 * k, y2=300), label="person", track_id=1),
            Detection(box=BoundingBox(x1=400, y1=220, x2=560, y2=300), label="car", track_id=2),
        ]


def test_relations_scene_rules_and_rules_policy_in_a_pipeline(tmp_path):
    frames = [Frame(index=k, timestamp=k / 10, source="walk") for k in range(30)]
    sink = CollectSink()
    out = tmp_path / "records.jsonl"
    pipe = Pipeline(
        source=ListSource(frames),
        detect=[Walkers()],
        interpret=[
            ("relations", {"temporal": {"min_frames": 2}}),
            ("scene-rules", {"situations": {"pedestrian_near_car": {"relation": {"subject": "person", "predicate": "near", "object": "car"}}}}),
        ],
        decide=("rules", {"rules": [{"name": "yield", "action": "STOP", "when": {"situation": "pedestrian_near_car"}}], "default": "GO"}),
        sinks=[sink, ("jsonl", {"path": str(out)})],
    )
    pipe.run()
    records = sink.records
    actions = [r.decision.action for r in records]
    first_stop = actions.index("STOP")
    assert set(actions[:first_stop]) == {"GO"} and set(actions[first_stop:]) == {"STOP"}
    stop = records[first_stop]
    assert "pedestrian_near_car" in stop.scene.situations
    assert stop.decision.rationale.startswith("STOP (yield): situation pedestrian_near_car (person 1 near car 2")
    assert stop.decision.plugin == "rules"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 30
    scene = lines[first_stop]["scene"]
    assert {"subject": 1, "predicate": "near", "object": 2} in [{k: r[k] for k in ("subject", "predicate", "object")} for r in scene["relations"]]
    assert "situation_started" in [e["name"] for e in scene["events"]]
    assert lines[first_stop]["decision"]["action"] == "STOP"
    assert any(fact.startswith("person 1 appeared") for line in lines for fact in line["scene"]["facts"])
    assert isinstance(scene["features"], list) and len(scene["features"]) == 8
    assert np.isfinite(scene["features"]).all()


def test_scene_rules_behind_a_tracker():
    class Person:
        @hookimpl
        def drid_detect(self, frame: Frame) -> list[Detection]:
            return [Detection(box=BoundingBox(x1=0, y1=0, x2=10, y2=10), label="person")]

    sink = CollectSink()
    Pipeline(source=ListSource([Frame(index=k, timestamp=k / 10) for k in range(6)]), detect=[Person(), ("track", {"min_hits": 1})],
             interpret=[("relations", {"temporal": {"min_frames": 1}}), ("scene-rules", {"situations": {"someone": {"label": "person"}}})],
             sinks=[sink]).run()
    assert sink.records[-1].scene.situations == ("someone",)


def test_zone_narration_tells_occupancy_changes_once():
    interp = RelationsInterpreter(temporal={"min_frames": 2}, zones=[{"name": "kerb", "polygon": [[200, 250], [400, 250], [400, 350], [200, 350]]}])
    told = []
    for k in range(80):  # walks right through the zone (x 200-400) and on; 8 s
        told += interp.interpret(k / 10, [scene_object(1, "person", (100 + 10 * k, 200, 140 + 10 * k, 300))]).facts
    zone_facts = [f for f in told if "zone 'kerb'" in f]
    assert zone_facts == [
        "person 1 entered zone 'kerb'",
        "1 person in zone 'kerb'",
        "person 1 left zone 'kerb' after 2.0 s",
        "zone 'kerb' is empty",
    ]


def test_frames_without_timestamps_are_timed_by_index():
    interp = RelationsInterpreter(temporal={"min_frames": 2}, assume_fps=10.0)
    for k in range(10):
        scene = interp.drid_interpret(Frame(index=k), walk(k))
    person = next(o for o in scene.objects if o.id == 1)
    assert person.attributes["speed_px_s"] == pytest.approx(100.0)


def test_untracked_objects_policy():
    loose = [scene_object(0, "cup", (10, 10, 20, 20), tracked=False), scene_object(1, "table", (0, 0, 100, 50), tracked=False)]
    assert RelationsInterpreter(untracked="exclude").interpret(0.0, loose).relations == ()
    assert RelationsInterpreter(untracked="include").interpret(0.0, loose).relations != ()
    auto = RelationsInterpreter(temporal={"min_frames": 1})
    assert auto.interpret(0.0, loose).relations != ()  # no tracker seen yet: they count
    auto.interpret(0.1, walk(1))  # a tracked object: from now on untracked ones are unconfirmed births
    assert auto.interpret(0.2, loose).relations == ()
