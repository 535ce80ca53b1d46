"""The ``scene-rules`` plugin: named situations from config rules over the merged scene.

A *wrapper* around the interpret stage: it sees the merged scene of every interpreter of the
stage (``relations`` and any third-party one) and adds the situations its rules recognise. When
``relations`` is the only interpreter, its own ``situations`` parameter runs the same rules
through this class without a wrapper."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pydantic import Field, field_validator

from drid.interpret.conditions import Condition, SceneView, parse_condition
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import hookimpl
from drid.pipeline.params import Plugin, PluginParams
from drid.schemas import Event, Frame, Scene, SceneObject

__all__ = ["SceneRules"]


class SceneRules(Plugin):
    """Named situations from config rules over the merged scene (wraps the interpret stage)."""

    drid_name = "scene-rules"

    class Params(PluginParams):
        situations: dict[str, Any] = Field(
            description="situation name → condition, in order, e.g. {pedestrian_in_path: {objects: {label: person, zone: road}}}"
        )

        @field_validator("situations")
        @classmethod
        def _parse(cls, value: dict[str, Any]) -> dict[str, Any]:
            return cls.check(value)

        @staticmethod
        def check(value: dict[str, Any], allow_empty: bool = False) -> dict[str, Any]:
            if not value and not allow_empty:
                raise ValueError("give at least one situation")
            for name, cond in value.items():
                if not isinstance(name, str) or not name.isidentifier():
                    raise ValueError(f"situation name {name!r} must be a word such as pedestrian_in_path")
                parse_condition(cond, path=name)
            return value

    params: Params

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.rules: list[tuple[str, Condition]] = [(n, parse_condition(c, path=n)) for n, c in self.params.situations.items()]
        self.active: dict[str, list[str]] = {}

    @hookimpl
    def drid_start(self, context: RunContext) -> None:
        self.active = {}

    def evaluate(self, scene: Scene) -> Scene:
        """``scene`` with the situations that hold added, ``situation_started``/``_ended`` events
        (the start carries the evidence in ``data.because``) and a fact when one starts."""
        view = SceneView(scene)
        holding: dict[str, list[str]] = {}
        for name, cond in self.rules:
            evidence = cond.test(view)
            if evidence is not None:
                holding[name] = evidence
                view.situations.add(name)  # later rules may build on earlier situations
        events, facts = [], []
        for name, evidence in holding.items():
            if name not in self.active:
                events.append(Event(name="situation_started", data={"situation": name, "because": list(evidence)}))
                facts.append(f"situation {name}: {'; '.join(evidence)}")
        for name in self.active:
            if name not in holding:
                events.append(Event(name="situation_ended", data={"situation": name}))
                facts.append(f"situation {name} ended")
        self.active = holding
        return scene.model_copy(
            update={
                "situations": tuple(dict.fromkeys((*scene.situations, *holding))),
                "events": scene.events + tuple(events),
                "facts": scene.facts + tuple(facts),
            }
        )

    @hookimpl(wrapper=True)
    def drid_interpret(self, frame: Frame, objects: list[SceneObject]) -> Generator[None, list[Scene], list[Scene]]:
        scenes = yield
        merged = Scene.merge([s for s in scenes if s is not None], objects=tuple(objects)) if scenes else Scene(objects=tuple(objects))
        return [self.evaluate(merged)]
