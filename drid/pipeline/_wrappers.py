"""Hook wrappers around a stage: pluggy sees one ``_Contributor`` per plugin of a wrapped stage, so a
wrapper (``hookwrapper=True`` or ``wrapper=True`` on a stage hook) gets one result per plugin while
the engine still times, validates and attributes each plugin's part."""

from __future__ import annotations

from typing import Any

import pluggy

from drid.pipeline._stages import Member, Stage, _ListStage
from drid.pipeline.hookspecs import hookimpl
from drid.schemas import Detection, Frame, Scene

__all__ = ["bridge_wrappers"]


class _Contributor:
    """Stands in for one plugin of a wrapped stage inside pluggy's call, so that wrappers see one
    result per plugin while the engine still times, validates and attributes each of them."""

    def __init__(self, stage: Stage, member: Member) -> None:
        self.stage = stage
        self.member = member

    def _part(self, kwargs: dict[str, Any]) -> Any:
        state = self.stage.current
        assert state is not None
        value = self.stage.contribution(self.member, state, kwargs)
        if value is None and isinstance(self.stage, _ListStage):
            return []  # keep one entry per plugin (pluggy leaves out None results)
        return value

    @hookimpl
    def drid_detect(self, frame: Frame) -> Any:
        return self._part({"frame": frame})

    @hookimpl
    def drid_recognize(self, frame: Frame, detections: list[Detection]) -> Any:
        return self._part({"frame": frame, "detections": detections})

    @hookimpl
    def drid_interpret(self, frame: Frame, objects: list[Any]) -> Any:
        return self._part({"frame": frame, "objects": objects})

    @hookimpl
    def drid_decide(self, frame: Frame, scene: Scene) -> Any:
        return self._part({"frame": frame, "scene": scene})


def bridge_wrappers(pm: pluggy.PluginManager, stages: list[Stage]) -> None:
    """Give every stage that has wrappers its pluggy caller: the stage's wrappers around one
    ``_Contributor`` per plugin, and no other stage's plugins."""
    contributors: dict[str, list[_Contributor]] = {}
    for stage in stages:
        if not stage.wrappers:
            continue
        # pluggy calls the most recently registered implementation first: register the
        # contributors in reverse so that results come in config order.
        contributors[stage.name] = [_Contributor(stage, m) for m in stage.members]
        for c in reversed(contributors[stage.name]):
            pm.register(c, name=f"drid-engine:{stage.name}:{c.member.name}")
    for stage in stages:
        if stage.wrappers:  # only now are all contributors registered: exclude the other stages'
            keep = {id(w.instance) for w in stage.wrappers} | {id(c) for c in contributors[stage.name]}
            remove = [p for p in pm.get_plugins() if id(p) not in keep]
            stage.outer = pm.subset_hook_caller(stage.hook, remove_plugins=remove)
