"""Policies written as rules: ``rules`` (ordered, declarative; the first rule whose condition
holds chooses the action).

A rule reads the scene through the condition language of ``drid.interpret.conditions`` (the one
``scene-rules`` uses), so a domain is described in the config, without code::

    decide:
      plugin: rules
      params:
        rules:
          - {name: stop for pedestrians, action: STOP, when: {situation: pedestrian_in_path}}
          - {action: SLOW, when: {objects: {label: person}}}
        default: GO
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, field_validator

from drid.interpret.conditions import Condition, SceneView, parse_condition
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Decision, Frame, Scene

__all__ = ["Rule", "RulePolicy"]

ActionValue = StrictInt | StrictFloat | StrictStr


class Rule(BaseModel):
    """One rule: when ``when`` holds, do ``action``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ActionValue = Field(description="the action to take: a name such as STOP, or an env action index")
    when: Any = Field(description="a condition (see drid.interpret.conditions): {situation: ...}, {relation: {...}}, {all: [...]}…")
    name: str | None = Field(default=None, description="how the rationale names this rule (default: 'rule N')")

    @field_validator("when")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        parse_condition(value, path="when")
        return value


class RulePolicy(Plugin):
    """Ordered declarative rules over the scene → an action with a rationale; a default action."""

    drid_name = "rules"

    class Params(PluginParams):
        rules: list[Rule] = Field(description="tried in order; the first whose condition holds decides")
        default: ActionValue = Field(default="GO", description="the action when no rule holds")
        hold: float = Field(
            default=0.0, ge=0,
            description="seconds an action chosen by a rule is kept unless an earlier (higher) rule fires: stops STOP/GO flicker",
        )

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.rules: list[tuple[str, Rule, Condition]] = [
            (r.name or f"rule {i + 1}", r, parse_condition(r.when, path=f"rules[{i}].when")) for i, r in enumerate(self.params.rules)
        ]
        self.reset()

    def reset(self) -> None:
        self._evidence: dict[str, list[str]] = {}  # situation → why scene-rules recognised it
        self._held: tuple[int, float, Decision] | None = None  # rule index, last time it fired, decision

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self.reset()

    @hookimpl
    def drid_decide(self, frame: Frame, scene: Scene) -> Decision:
        return self.decide(scene, frame.timestamp)

    def decide(self, scene: Scene, t: float = 0.0) -> Decision:
        """The first rule that holds in ``scene`` at time ``t``, or the default."""
        for ev in scene.events:
            situation = ev.data.get("situation")
            if not isinstance(situation, str):
                continue
            if ev.name == "situation_started":
                because = ev.data.get("because")
                self._evidence[situation] = [str(b) for b in because] if isinstance(because, list) else []
            elif ev.name == "situation_ended":
                self._evidence.pop(situation, None)
        view = SceneView(scene, evidence=self._evidence)
        for index, (name, rule, cond) in enumerate(self.rules):
            if self._held is not None and index > self._held[0] and t - self._held[1] < self.params.hold:
                break  # a higher rule fired moments ago: keep its action
            evidence = cond.test(view)
            if evidence is None:
                continue
            decision = Decision(
                action=rule.action,
                rationale=f"{rule.action} ({name}): " + "; ".join(evidence),
                info={"rule": name, "rule_index": index, "evidence": list(evidence)},
            )
            self._held = (index, t, decision)
            return decision
        if self._held is not None and t - self._held[1] < self.params.hold:
            held = self._held[2]
            return held.model_copy(update={"rationale": held.rationale + f" (held for {self.params.hold:g} s)"})
        self._held = None
        return Decision(action=self.params.default, rationale=f"{self.params.default}: no rule holds (default)", info={"rule": "default"})
