"""The ``rules`` policy: ordered rules, default action, rationale naming the facts, hold against
flicker, clear errors for bad rules, and the shipped street policy config."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT

from drid import ConfigError
from drid.decide.rules import RulePolicy
from drid.pipeline.registry import default_registry
from drid.schemas import BoundingBox, Event, Relation, Scene, SceneObject
from drid.testing import scene_object

STREET = [
    {"name": "pedestrian in path", "action": "STOP", "when": {"situation": "pedestrian_in_path"}},
    {"name": "people near", "action": "SLOW", "when": {"objects": {"label": "person"}}},
    {"action": "SLOW", "when": {"relation": {"subject": "car", "predicate": "approaching", "object": "car"}}},
]


def test_first_matching_rule_decides_and_names_its_facts():
    policy = RulePolicy(rules=STREET, default="GO")
    assert policy.decide(Scene()).action == "GO"
    assert policy.decide(Scene()).rationale == "GO: no rule holds (default)"
    people = Scene(objects=(scene_object(3, "person"),))
    d = policy.decide(people)
    assert d.action == "SLOW"
    assert d.rationale == "SLOW (people near): person 3"
    assert d.info == {"rule": "people near", "rule_index": 1, "evidence": ["person 3"]}
    both = Scene(objects=(scene_object(3, "person"),), situations=("pedestrian_in_path",))
    assert policy.decide(both).action == "STOP"  # earlier rule wins over a later one
    cars = Scene(objects=(scene_object(1, "car"), scene_object(2, "car")), relations=(Relation(subject=1, predicate="approaching", object=2, confidence=0.7),))
    d = policy.decide(cars)
    assert (d.action, d.info["rule"]) == ("SLOW", "rule 3")
    assert "car 1 approaching car 2 (0.70)" in d.rationale


def test_situation_evidence_from_scene_rules_reaches_the_rationale():
    policy = RulePolicy(rules=STREET)
    started = Scene(
        situations=("pedestrian_in_path",),
        events=(Event(name="situation_started", data={"situation": "pedestrian_in_path", "because": ["person 4 in zone 'road'"]}),),
    )
    d = policy.decide(started, 0.0)
    assert d.rationale == "STOP (pedestrian in path): situation pedestrian_in_path (person 4 in zone 'road')"
    # Later frames carry only the situation; the policy remembers why it began.
    assert "person 4" in policy.decide(Scene(situations=("pedestrian_in_path",)), 0.1).rationale
    ended = Scene(events=(Event(name="situation_ended", data={"situation": "pedestrian_in_path"}),))
    assert policy.decide(ended, 0.2).action == "GO"


def test_hold_keeps_a_higher_rule_against_flicker():
    policy = RulePolicy(rules=STREET, default="GO", hold=0.5)
    stop = Scene(situations=("pedestrian_in_path",))
    people = Scene(objects=(scene_object(3, "person"),))
    seq = [(0.0, stop), (0.1, Scene()), (0.2, people), (0.3, stop), (0.7, Scene()), (0.9, Scene()), (1.0, people)]
    decisions = [policy.decide(scene, t) for t, scene in seq]
    assert [d.action for d in decisions] == ["STOP", "STOP", "STOP", "STOP", "STOP", "GO", "SLOW"]
    assert decisions[1].rationale.endswith("(held for 0.5 s)")
    assert decisions[3].rationale == "STOP (pedestrian in path): situation pedestrian_in_path"


def test_numeric_actions_for_environments():
    policy = RulePolicy(rules=[{"action": 1, "when": {"label": "pole"}}], default=0)
    assert policy.decide(Scene(objects=(scene_object(1, "pole"),))).action == 1
    assert policy.decide(Scene()).action == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rules": [{"action": "STOP", "when": {"situaton": "x"}}]}, r"decide\.params\.rules\[0\]\.when: .*unknown condition 'situaton' \(did you mean 'situation'"),
        ({"rules": [{"action": "STOP"}]}, r"decide\.params\.rules\[0\]\.when: .*required but missing"),
        ({"rules": [{"action": "STOP", "when": {"label": "a"}, "priority": 1}]}, r"rules\[0\]\.priority"),
        ({"rules": [{"action": ["a"], "when": {"label": "a"}}]}, r"rules\[0\]\.action"),
        ({"rule": []}, r"unknown parameter of plugin 'rules' \(did you mean 'rules'"),
        ({"rules": [], "hold": -1}, r"decide\.params\.hold"),
    ],
)
def test_bad_rules_are_config_errors_with_locations(params, message):
    with pytest.raises(ConfigError, match=message):
        default_registry().get("rules").validate_params(params, path="decide.params")


def test_a_rules_policy_built_in_python_is_checked_like_one_from_a_config():
    from drid import Pipeline
    from drid.testing import ListSource

    params = {"rules": [{"action": "STOP", "when": {"situaton": "x"}}], "hold": 0.5}
    with pytest.raises(ConfigError) as in_python:
        RulePolicy(**params)
    with pytest.raises(ConfigError) as in_config:
        Pipeline(source=ListSource([]), decide=("rules", params))
    assert in_python.value.message == in_config.value.message
    assert "unknown condition 'situaton'" in in_python.value.message
    assert (in_python.value.path, in_config.value.path) == ("params.rules[0].when", "decide.params.rules[0].when")
    with pytest.raises(ConfigError, match="hold: .*greater than or equal to 0"):
        RulePolicy(rules=[], hold=-1)


def test_shipped_street_config_is_valid_and_sensible():
    config = yaml.safe_load((ROOT / "examples" / "street-rules.yaml").read_text())
    interpret = {spec["plugin"]: spec.get("params", {}) for spec in config["interpret"]}
    reg = default_registry()
    relations = reg.get("relations").instantiate(interpret["relations"])
    policy = reg.get("rules").instantiate(config["decide"]["params"])
    assert {r.action for r in policy.params.rules} | {policy.params.default} == {"GO", "SLOW", "STOP"}
    # An empty street: GO; a vehicle driving along the road: STOP; one standing in it: SLOW.
    assert policy.decide(relations.interpret(0.0, []), 0.0).action == "GO"
    actions = []
    for k in range(70):
        x = 100 + 8 * k if k < 15 else 212  # drives right at 200 px/s (25 fps), then stands
        car = SceneObject(id=1, label="motion", score=1.0, box=BoundingBox(x1=x, y1=110, x2=x + 120, y2=180), detected_as="motion", detection=0, track_id=1)
        scene = relations.interpret(k / 25, [car])
        actions.append(policy.decide(scene, k / 25).action)
    assert actions[:2] == ["GO", "GO"]  # not confirmed yet
    assert "STOP" in actions[2:15] and actions[-1] == "SLOW"
    from drid.pipeline.config import PipelineConfig

    PipelineConfig.parse(config)  # the whole file is a valid pipeline config
