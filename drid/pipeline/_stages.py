"""Stage semantics: a plugin's place in a stage, the four stage classes (what each stage passes,
validates, attributes and combines), the error policies, and the bridge that lets pluggy
wrappers (``@hookimpl(wrapper=True)``) run around the engine's own per-plugin calls."""

from __future__ import annotations

import time
from typing import Any

import pluggy
from pydantic import TypeAdapter, ValidationError

from drid.errors import ConfigError, StageError, validation_text
from drid.pipeline._binding import TimedCall, bind
from drid.pipeline.hookspecs import SKIPPED_META, STAGE_HOOKS
from drid.pipeline.stats import PluginStats, RunSummary, StageStats
from drid.schemas import Decision, Detection, Frame, FrameRecord, PluginFault, Recognition, Scene, Transition
from drid.schemas.messages import build_objects

__all__ = ["STAGE_TYPES", "FrameDropped", "FrameState", "Member", "Stage"]

_EMPTY_SCENE = Scene()


class Member:
    """One plugin instance's place in one stage: its name, config path, bound hook, error policy
    and stats."""

    __slots__ = ("name", "instance", "stage", "path", "policy", "call", "stats", "wrapper", "interval", "timeout")

    def __init__(self, name: str, instance: Any, stage: str, path: str, policy: str, interval: int = 1, timeout: float | None = None) -> None:
        self.name = name
        self.instance = instance
        self.stage = stage
        self.path = path
        self.policy = policy
        self.call: Any = None  # the bound hook's ``call(kwargs)``
        self.stats = PluginStats(name)
        self.wrapper = False
        self.interval = interval  # detect entries: run on every interval-th frame of each source
        self.timeout = timeout  # seconds a call may take (None: no limit)

    def reset_stats(self) -> None:
        self.stats = PluginStats(self.name)

    def bind(self, pm: pluggy.PluginManager, hook: str) -> None:
        bound = bind(pm, self.instance, hook)
        if bound is None:
            raise ConfigError(f"plugin '{self.name}' does not implement {hook}", path=self.path)
        self.call = bound.call if self.timeout is None or bound.wrapper else TimedCall(bound.call, self.timeout)
        self.wrapper = bound.wrapper


class FrameState:
    """One frame on its way through the stages: what each stage added so far."""

    __slots__ = ("frame", "detections", "recognitions", "scene", "decision", "transition", "timings", "faults", "skipped")

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.detections: list[Detection] = []
        self.recognitions: list[Recognition] = []
        self.scene: Scene | None = None
        self.decision: Decision | None = None
        self.transition: Transition | None = None
        self.timings: dict[str, float] = {}
        self.faults: list[PluginFault] = []
        self.skipped: tuple[str, ...] = ()  # detect entries that did not run on this frame (interval)

    @property
    def label(self) -> str:
        return f"{self.frame.source or '?'}#{self.frame.index}"

    def record(self) -> FrameRecord:
        return FrameRecord(
            frame=self.frame,
            detections=self.detections,
            recognitions=self.recognitions,
            scene=self.scene,
            decision=self.decision,
            transition=self.transition,
            timings_ms=self.timings,
            faults=self.faults,
        )


class FrameDropped(Exception):
    """Internal: a ``skip`` policy removed the frame."""


class Stage:
    """A stage: its plugins in config order, optional wrappers, one output type.

    Without wrappers the engine calls each plugin's hook function itself (attribution, timing and
    the error policy per plugin). With wrappers, pluggy runs the wrappers around one
    ``_Contributor`` per plugin, so a wrapper receives one entry per plugin, in config order."""

    hook = ""
    output_name = ""
    adapter: TypeAdapter[Any]

    def __init__(self, name: str, members: list[Member], summary: RunSummary) -> None:
        self.name = name
        self.members = [m for m in members if not m.wrapper]
        self.wrappers = [m for m in members if m.wrapper]
        self.outer: Any = None  # pluggy subset caller: the wrappers around the contributors
        self.current: FrameState | None = None
        self.reset(summary)

    def reset(self, summary: RunSummary) -> None:
        """Fresh stats for a new run (of the stage and each of its plugins), reported in
        ``summary``."""
        self.summary = summary
        for m in (*self.wrappers, *self.members):
            m.reset_stats()
        self.stats = StageStats(self.name, plugins={m.name: m.stats for m in (*self.wrappers, *self.members)})

    # -- one plugin, under its policy ------------------------------------------------------
    def contribution(self, member: Member, state: FrameState, kwargs: dict[str, Any]) -> Any:
        """One plugin's validated, attributed output, or ``None`` when it failed under
        ``continue`` (``FrameDropped``/``StageError`` under ``skip``/``fail``)."""
        t0 = time.perf_counter()
        member.stats.calls += 1
        try:
            value = self.adapter.validate_python(member.call(kwargs))
        except ValidationError as exc:
            self._fault(member.name, member.path, member.policy, state, f"returned an invalid {self.output_name}: {validation_text(exc)}", exc)
            return None
        except (KeyboardInterrupt, SystemExit, GeneratorExit, FrameDropped):
            raise
        except Exception as exc:
            self._fault(member.name, member.path, member.policy, state, exc, exc)
            return None
        finally:
            member.stats.latency.record(time.perf_counter() - t0)
        return self.attribute(value, member)

    def _fault(self, plugin: str, path: str, policy: str, state: FrameState, error: Any, exc: BaseException) -> None:
        member = self.stats.plugins.get(plugin)
        if member is not None:
            member.failures += 1
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        if policy == "continue":
            state.faults.append(PluginFault(stage=self.name, plugin=plugin, error=type(exc).__name__, message=message))
            return
        if policy == "skip":
            self.stats.dropped += 1
            self.summary.drop(f"skipped by policy: {self.name}/{plugin} raised {type(exc).__name__}")
            raise FrameDropped
        self.stats.failed += 1
        raise StageError(self.name, plugin, state.label, message, path=path) from exc

    # -- the whole stage ---------------------------------------------------------------------
    def run(self, state: FrameState) -> None:
        """Run the stage on ``state`` in place; raises ``FrameDropped`` or ``StageError``."""
        self.stats.frames_in += 1
        t0 = time.perf_counter()
        try:
            kwargs = self.arguments(state)
            if self.outer is None:
                parts = [self.contribution(m, state, kwargs) for m in self.members]
            else:
                parts = self._wrapped(state, kwargs)
            self.store(state, self.combine(parts, kwargs))
        except KeyboardInterrupt:
            self.stats.dropped += 1  # the engine counts the frame as dropped: "interrupted"
            raise
        finally:
            dt = time.perf_counter() - t0
            self.stats.latency.record(dt)
            state.timings[self.name] = dt * 1e3
        self.stats.frames_out += 1

    def _wrapped(self, state: FrameState, kwargs: dict[str, Any]) -> list[Any]:
        names = "+".join(m.name for m in self.wrappers)
        paths = "+".join(m.path for m in self.wrappers)
        policy = self.wrappers[0].policy
        self.current = state
        for w in self.wrappers:
            w.stats.calls += 1
        try:
            raw = self.outer(**kwargs)
        except (StageError, FrameDropped, KeyboardInterrupt):
            raise
        except Exception as exc:
            self._fault(names, paths, policy, state, exc, exc)
            return []
        finally:
            self.current = None
        try:
            return self.validate_wrapped(raw)
        except ValidationError as exc:
            self._fault(names, paths, policy, state, f"returned an invalid result for {self.hook}: {validation_text(exc)}", exc)
            return []

    # stage-specific parts
    def arguments(self, state: FrameState) -> dict[str, Any]:
        raise NotImplementedError

    def attribute(self, value: Any, member: Member) -> Any:
        raise NotImplementedError

    def validate_wrapped(self, raw: Any) -> list[Any]:
        """What the wrappers returned, as validated parts (one per contributor)."""
        raise NotImplementedError

    def combine(self, parts: list[Any], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def store(self, state: FrameState, result: Any) -> None:
        raise NotImplementedError


class _ListStage(Stage):
    """detect and recognize: every plugin adds to one list."""

    def attribute(self, value: list[Any], member: Member) -> list[Any]:
        name = member.name
        member.stats.items += len(value)
        return [it if it.plugin == name else it.model_copy(update={"plugin": name}) for it in value]

    def validate_wrapped(self, raw: Any) -> list[Any]:
        return [self.adapter.validate_python(part) for part in raw or []]

    def combine(self, parts: list[Any], kwargs: dict[str, Any]) -> list[Any]:
        if len(parts) == 1:
            return parts[0] or []
        return [item for part in parts if part for item in part]


class _DetectStage(_ListStage):
    """detect: every detector adds to one list; an entry with ``interval: N`` runs on the frames
    where its source's frame count (in this stage, from 0) is a multiple of N. On the others it
    contributes nothing and the frame carries the names of the skipped entries in
    ``meta[SKIPPED_META]``, so that a tracker wrapping the stage carries their tracks."""

    hook = "drid_detect"
    output_name = "list[Detection]"
    adapter = TypeAdapter(list[Detection])

    def __init__(self, name: str, members: list[Member], summary: RunSummary) -> None:
        super().__init__(name, members, summary)
        for w in self.wrappers:
            if w.interval != 1:
                raise ConfigError(f"interval applies to detectors, not to the wrapper '{w.name}' (it sees every frame)", path=f"{w.path}.interval")
        self.periodic = [m for m in self.members if m.interval > 1]

    def reset(self, summary: RunSummary) -> None:
        super().reset(summary)
        self.frame_counts: dict[str, int] = {}  # frames seen per source this run

    def arguments(self, state: FrameState) -> dict[str, Any]:
        if self.periodic:
            frame = state.frame
            k = self.frame_counts.get(frame.source, 0)
            self.frame_counts[frame.source] = k + 1
            skipped = tuple(m.name for m in self.periodic if k % m.interval)
            if skipped:
                state.skipped = skipped
                state.frame = frame.model_copy(update={"meta": type(frame.meta)({**frame.meta, SKIPPED_META: list(skipped)})})
        return {"frame": state.frame}

    def contribution(self, member: Member, state: FrameState, kwargs: dict[str, Any]) -> Any:
        if state.skipped and member.name in state.skipped:
            return []  # not its frame: it neither runs nor counts a call
        return super().contribution(member, state, kwargs)

    def store(self, state: FrameState, result: list[Detection]) -> None:
        state.detections = _inside_frame(result, state.frame, self.summary)


def _inside_frame(detections: list[Detection], frame: Frame, summary: RunSummary) -> list[Detection]:
    """``detections`` with their boxes clipped to the frame's image: a box that reaches past an
    edge is cut at it, one wholly outside (nothing left after the cut) is discarded. Both are
    counted per detector in the summary's ``corrections``. Frames without pixels keep their boxes."""
    if frame.image is None or not detections:
        return detections
    h, w = frame.image.shape[:2]
    kept: list[Detection] = []
    for det in detections:
        b = det.box
        if b.x1 >= 0 and b.y1 >= 0 and b.x2 <= w and b.y2 <= h:
            kept.append(det)
            continue
        clipped = b.clip(w, h)
        if clipped.width <= 0 or clipped.height <= 0:
            summary.correct(f"detect/{det.plugin}: box wholly outside the frame, detection discarded")
            continue
        summary.correct(f"detect/{det.plugin}: box past the frame's edge, clipped to it")
        kept.append(det.model_copy(update={"box": clipped}))
    return kept


class _RecognizeStage(_ListStage):
    hook = "drid_recognize"
    output_name = "list[Recognition]"
    adapter = TypeAdapter(list[Recognition])

    def arguments(self, state: FrameState) -> dict[str, Any]:
        return {"frame": state.frame, "detections": state.detections}

    def store(self, state: FrameState, result: list[Recognition]) -> None:
        n = len(state.detections)
        for rec in result:
            if rec.detection >= n:
                member = next((m for m in self.members if m.name == rec.plugin), None)
                self._fault(rec.plugin or "?", member.path if member else self.name, member.policy if member else "fail", state,
                            f"recognition refers to detection {rec.detection} but the frame has {n}", IndexError())
                result = [r for r in result if r.detection < n]
                break
        state.recognitions = result


class _InterpretStage(Stage):
    hook = "drid_interpret"
    output_name = "Scene"
    adapter = TypeAdapter(Scene)

    def arguments(self, state: FrameState) -> dict[str, Any]:
        return {"frame": state.frame, "objects": list(build_objects(state.detections, state.recognitions))}

    def attribute(self, value: Scene, member: Member) -> Scene:
        member.stats.items += 1
        return value

    def validate_wrapped(self, raw: Any) -> list[Any]:
        return [self.adapter.validate_python(part) for part in raw or []]

    def combine(self, parts: list[Any], kwargs: dict[str, Any]) -> Scene:
        return Scene.merge([p for p in parts if p is not None], objects=tuple(kwargs["objects"]))

    def store(self, state: FrameState, result: Scene) -> None:
        state.scene = result


class _DecideStage(Stage):
    hook = "drid_decide"
    output_name = "Decision"
    adapter = TypeAdapter(Decision)

    def arguments(self, state: FrameState) -> dict[str, Any]:
        return {"frame": state.frame, "scene": state.scene if state.scene is not None else _EMPTY_SCENE}

    def attribute(self, value: Decision, member: Member) -> Decision:
        member.stats.items += 1
        return value if value.plugin == member.name else value.model_copy(update={"plugin": member.name})

    def validate_wrapped(self, raw: Any) -> list[Any]:
        return [] if raw is None else [self.adapter.validate_python(raw)]

    def combine(self, parts: list[Any], kwargs: dict[str, Any]) -> Decision | None:
        return next((p for p in parts if p is not None), None)

    def store(self, state: FrameState, result: Decision | None) -> None:
        state.decision = result


_KINDS: tuple[type[Stage], ...] = (_DetectStage, _RecognizeStage, _InterpretStage, _DecideStage)
STAGE_TYPES: dict[str, type[Stage]] = {stage: next(k for k in _KINDS if k.hook == hook) for stage, hook in STAGE_HOOKS.items()}
"""The stage class of each stage name, in pipeline order."""
