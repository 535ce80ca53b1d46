"""The staged engine: one pluggy ``PluginManager`` per pipeline, stages run in sequence or each in
its own thread with bounded queues, every output validated once and attributed to its plugin."""

from __future__ import annotations

import copy
import inspect
import itertools
import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pluggy
from pydantic import TypeAdapter, ValidationError

from drid.errors import ConfigError, DridError, PluginLoadError, SourceError, StageError, close_matches
from drid.pipeline import hookspecs
from drid.pipeline.config import PipelineConfig, PluginSpec, apply_overrides, load_config
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import PROJECT, STAGE_HOOKS, hookimpl
from drid.pipeline.registry import PluginInfo, Registry, default_registry, hooks_of
from drid.pipeline.stats import PluginStats, RunSummary, StageStats
from drid.schemas import Decision, Detection, Frame, FrameRecord, PluginFault, Recognition, Scene, Transition
from drid.schemas.messages import build_objects

__all__ = ["Pipeline"]

_POLICIES = ("fail", "skip", "continue")
_EMPTY_SCENE = Scene()
_TRANSITION = TypeAdapter(Transition)  # validating an instance is only an isinstance check
_END = object()


class _Failure:
    """Travels down the queues in frame order: frames before it are finished and written, the
    error is raised when the consumer reaches it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _impl_of(pm: pluggy.PluginManager, hook: str, instance: Any) -> Any:
    """The ``HookImpl`` of ``hook`` that ``instance`` registered in ``pm``, or ``None``."""
    return next((impl for impl in getattr(pm.hook, hook).get_hookimpls() if impl.plugin is instance), None)


class _Member:
    """One plugin instance's place in one stage: its hook function, policy and stats."""

    __slots__ = ("name", "instance", "stage", "policy", "function", "argnames", "stats", "wrapper")

    def __init__(self, name: str, instance: Any, stage: str, policy: str) -> None:
        self.name = name
        self.instance = instance
        self.stage = stage
        self.policy = policy
        self.function: Any = None
        self.argnames: tuple[str, ...] = ()
        self.stats = PluginStats(name)
        self.wrapper = False

    def bind(self, pm: pluggy.PluginManager, hook: str) -> None:
        impl = _impl_of(pm, hook, self.instance)
        if impl is None:
            raise ConfigError(f"plugin '{self.name}' does not implement {hook}")
        self.function = impl.function
        self.argnames = tuple(impl.argnames)
        self.wrapper = bool(impl.wrapper or impl.hookwrapper)

    def call(self, kwargs: dict[str, Any]) -> Any:
        return self.function(*[kwargs[a] for a in self.argnames])


class _FrameState:
    __slots__ = ("frame", "detections", "recognitions", "scene", "decision", "transition", "timings", "faults")

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.detections: list[Detection] = []
        self.recognitions: list[Recognition] = []
        self.scene: Scene | None = None
        self.decision: Decision | None = None
        self.transition: Transition | None = None
        self.timings: dict[str, float] = {}
        self.faults: list[PluginFault] = []

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


class _FrameDropped(Exception):
    """Internal: a ``skip`` policy removed the frame."""


class _Stage:
    """A stage: its plugins in config order, optional wrappers, one output type.

    Without wrappers the engine calls each plugin's hook function itself (attribution, timing and
    the error policy per plugin). With wrappers, pluggy runs the wrappers around one
    ``_Contributor`` per plugin, so a wrapper receives one entry per plugin, in config order."""

    hook = ""
    output_name = ""
    adapter: TypeAdapter[Any]

    def __init__(self, name: str, members: list[_Member], summary: RunSummary) -> None:
        self.name = name
        self.members = [m for m in members if not m.wrapper]
        self.wrappers = [m for m in members if m.wrapper]
        self.outer: Any = None  # pluggy subset caller: the wrappers around the contributors
        self.current: _FrameState | None = None
        self.summary = summary
        self.stats = StageStats(name, plugins={m.name: m.stats for m in members})

    # -- one plugin, under its policy ------------------------------------------------------
    def contribution(self, member: _Member, state: _FrameState, kwargs: dict[str, Any]) -> Any:
        """One plugin's validated, attributed output, or ``None`` when it failed under
        ``continue`` (``_FrameDropped``/``StageError`` under ``skip``/``fail``)."""
        t0 = time.perf_counter()
        member.stats.calls += 1
        try:
            value = self.adapter.validate_python(member.call(kwargs))
        except ValidationError as exc:
            self._fault(member.name, member.policy, state, f"returned an invalid {self.output_name}: {_first_error(exc)}", exc)
            return None
        except (KeyboardInterrupt, SystemExit, GeneratorExit, _FrameDropped):
            raise
        except Exception as exc:
            self._fault(member.name, member.policy, state, exc, exc)
            return None
        finally:
            member.stats.latency.record(time.perf_counter() - t0)
        return self.attribute(value, member)

    def _fault(self, plugin: str, policy: str, state: _FrameState, error: Any, exc: BaseException) -> None:
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
            raise _FrameDropped
        self.stats.failed += 1
        raise StageError(self.name, plugin, state.label, message) from exc

    # -- the whole stage ---------------------------------------------------------------------
    def run(self, state: _FrameState) -> None:
        """Run the stage on ``state`` in place; raises ``_FrameDropped`` or ``StageError``."""
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

    def _wrapped(self, state: _FrameState, kwargs: dict[str, Any]) -> list[Any]:
        names = "+".join(m.name for m in self.wrappers)
        policy = self.wrappers[0].policy
        self.current = state
        for w in self.wrappers:
            w.stats.calls += 1
        try:
            raw = self.outer(**kwargs)
        except (StageError, _FrameDropped, KeyboardInterrupt):
            raise
        except Exception as exc:
            self._fault(names, policy, state, exc, exc)
            return []
        finally:
            self.current = None
        try:
            return self.validate_wrapped(raw)
        except ValidationError as exc:
            self._fault(names, policy, state, f"returned an invalid result for {self.hook}: {_first_error(exc)}", exc)
            return []

    # stage-specific parts
    def arguments(self, state: _FrameState) -> dict[str, Any]:
        raise NotImplementedError

    def attribute(self, value: Any, member: _Member) -> Any:
        raise NotImplementedError

    def validate_wrapped(self, raw: Any) -> list[Any]:
        """What the wrappers returned, as validated parts (one per contributor)."""
        raise NotImplementedError

    def combine(self, parts: list[Any], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def store(self, state: _FrameState, result: Any) -> None:
        raise NotImplementedError


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    got = type(err.get("input")).__name__
    return f"{loc + ': ' if loc else ''}{err.get('msg')} (got {got})"


class _ListStage(_Stage):
    """detect and recognize: every plugin adds to one list."""

    def attribute(self, value: list[Any], member: _Member) -> list[Any]:
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
    hook = "drid_detect"
    output_name = "list[Detection]"
    adapter = TypeAdapter(list[Detection])

    def arguments(self, state: _FrameState) -> dict[str, Any]:
        return {"frame": state.frame}

    def store(self, state: _FrameState, result: list[Detection]) -> None:
        state.detections = result


class _RecognizeStage(_ListStage):
    hook = "drid_recognize"
    output_name = "list[Recognition]"
    adapter = TypeAdapter(list[Recognition])

    def arguments(self, state: _FrameState) -> dict[str, Any]:
        return {"frame": state.frame, "detections": state.detections}

    def store(self, state: _FrameState, result: list[Recognition]) -> None:
        n = len(state.detections)
        for rec in result:
            if rec.detection >= n:
                member = next((m for m in self.members if m.name == rec.plugin), None)
                self._fault(rec.plugin or "?", member.policy if member else "fail", state,
                            f"recognition refers to detection {rec.detection} but the frame has {n}", IndexError())
                result = [r for r in result if r.detection < n]
                break
        state.recognitions = result


class _InterpretStage(_Stage):
    hook = "drid_interpret"
    output_name = "Scene"
    adapter = TypeAdapter(Scene)

    def arguments(self, state: _FrameState) -> dict[str, Any]:
        return {"frame": state.frame, "objects": list(build_objects(state.detections, state.recognitions))}

    def attribute(self, value: Scene, member: _Member) -> Scene:
        member.stats.items += 1
        return value

    def validate_wrapped(self, raw: Any) -> list[Any]:
        return [self.adapter.validate_python(part) for part in raw or []]

    def combine(self, parts: list[Any], kwargs: dict[str, Any]) -> Scene:
        return Scene.merge([p for p in parts if p is not None], objects=tuple(kwargs["objects"]))

    def store(self, state: _FrameState, result: Scene) -> None:
        state.scene = result


class _DecideStage(_Stage):
    hook = "drid_decide"
    output_name = "Decision"
    adapter = TypeAdapter(Decision)

    def arguments(self, state: _FrameState) -> dict[str, Any]:
        return {"frame": state.frame, "scene": state.scene if state.scene is not None else _EMPTY_SCENE}

    def attribute(self, value: Decision, member: _Member) -> Decision:
        member.stats.items += 1
        return value if value.plugin == member.name else value.model_copy(update={"plugin": member.name})

    def validate_wrapped(self, raw: Any) -> list[Any]:
        return [] if raw is None else [self.adapter.validate_python(raw)]

    def combine(self, parts: list[Any], kwargs: dict[str, Any]) -> Decision | None:
        return next((p for p in parts if p is not None), None)

    def store(self, state: _FrameState, result: Decision | None) -> None:
        state.decision = result


_STAGE_TYPES: dict[str, type[_Stage]] = {
    "detect": _DetectStage,
    "recognize": _RecognizeStage,
    "interpret": _InterpretStage,
    "decide": _DecideStage,
}


class _Contributor:
    """Stands in for one plugin of a wrapped stage inside pluggy's call, so that wrappers see one
    result per plugin while the engine still times, validates and attributes each of them."""

    def __init__(self, stage: _Stage, member: _Member) -> None:
        self.stage = stage
        self.member = member

    def _part(self, kwargs: dict[str, Any]) -> Any:
        state = self.stage.current
        assert state is not None
        value = self.stage.contribution(self.member, state, kwargs)
        if value is None and self.stage.hook in ("drid_detect", "drid_recognize"):
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


class Pipeline:
    """A pipeline of plugins: build it from a config or in code, then iterate its records,
    ``run()`` it to completion, or use it as a context manager.

    Each plugin argument is a plugin instance, a plugin class, a registered name, a
    ``(name, params)`` pair or a ``PluginSpec``::

        with Pipeline(source=("images", {"path": "photos/"}), detect=["cascade"],
                      sinks=[("jsonl", {"path": "out.jsonl"})]) as pipe:
            for record in pipe:
                print(record.frame.index, len(record.detections))
        print(pipe.summary.table())
    """

    def __init__(
        self,
        source: Any,
        detect: Iterable[Any] = (),
        recognize: Iterable[Any] = (),
        interpret: Iterable[Any] = (),
        decide: Any = None,
        sinks: Iterable[Any] = (),
        *,
        name: str = "pipeline",
        mode: str = "sequential",
        queue_size: int = 4,
        overflow: str = "block",
        on_error: str | dict[str, str] = "fail",
        max_frames: int | None = None,
        registry: Registry | None = None,
        where: str = "",
    ) -> None:
        if mode not in ("sequential", "concurrent"):
            raise ConfigError(f"mode must be 'sequential' or 'concurrent', got '{mode}'", path="engine.mode", where=where)
        if overflow not in ("block", "drop-oldest"):
            raise ConfigError(f"overflow must be 'block' or 'drop-oldest', got '{overflow}'", path="engine.overflow", where=where)
        policies = {s: on_error for s in ("source", *STAGE_HOOKS, "sink")} if isinstance(on_error, str) else dict(on_error)
        for stage, policy in policies.items():
            if policy not in _POLICIES:
                raise ConfigError(f"error policy must be one of {', '.join(_POLICIES)}, got '{policy}'", path=f"engine.on_error.{stage}", where=where)
        self.name = name
        self.mode = mode
        self.queue_size = queue_size
        self.overflow = overflow
        self.max_frames = max_frames
        self._where = where
        self._registry = registry
        self._taken: set[str] = set()

        self.source = self._resolve(source, "source", "source", policies.get("source", "fail"))
        members: dict[str, list[_Member]] = {}
        for stage, entries in (("detect", detect), ("recognize", recognize), ("interpret", interpret)):
            members[stage] = [self._resolve(e, stage, f"{stage}[{i}]", policies.get(stage, "fail")) for i, e in enumerate(_listify(entries))]
        members["decide"] = [self._resolve(decide, "decide", "decide", policies.get("decide", "fail"))] if decide is not None else []
        self.sinks = [self._resolve(e, "sink", f"sinks[{i}]", policies.get("sink", "fail")) for i, e in enumerate(_listify(sinks))]

        self.summary = RunSummary(name=name, mode=mode)
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        everything = [self.source, *(m for ms in members.values() for m in ms), *self.sinks]
        seen: set[int] = set()
        for member in everything:
            if id(member.instance) in seen:
                continue
            seen.add(id(member.instance))
            try:
                self.pm.register(member.instance, name=member.name)
            except (pluggy.PluginValidationError, ValueError) as exc:
                raise ConfigError(f"plugin '{member.name}' has invalid hooks: {exc}", path=member.stage, where=where) from None
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise ConfigError(f"plugin '{getattr(exc, 'plugin_name', '?')}' implements a hook that does not exist: {exc}", where=where) from None

        self.source.bind(self.pm, "drid_frames")
        self._act = self._optional_hook(self.source, "drid_act")
        for sink in self.sinks:
            sink.bind(self.pm, "drid_write")
        self.stages: list[_Stage] = []
        for stage_name, hook in STAGE_HOOKS.items():
            if not members[stage_name]:
                continue
            for m in members[stage_name]:
                m.bind(self.pm, hook)
            stage = _STAGE_TYPES[stage_name](stage_name, members[stage_name], self.summary)
            self.stages.append(stage)
        self._learners = [(m, f) for m in members["decide"] if (f := self._optional_hook(m, "drid_learn")) is not None]
        contributors: dict[str, list[_Contributor]] = {}
        for stage in self.stages:
            if not stage.wrappers:
                continue
            # pluggy calls the most recently registered implementation first: register the
            # contributors in reverse so that results come in config order.
            contributors[stage.name] = [_Contributor(stage, m) for m in stage.members]
            for c in reversed(contributors[stage.name]):
                self.pm.register(c, name=f"drid-engine:{stage.name}:{c.member.name}")
        for stage in self.stages:
            if stage.wrappers:  # only now are all contributors registered: exclude the other stages'
                keep = {id(w.instance) for w in stage.wrappers} | {id(c) for c in contributors[stage.name]}
                remove = [p for p in self.pm.get_plugins() if id(p) not in keep]
                stage.outer = self.pm.subset_hook_caller(stage.hook, remove_plugins=remove)
        self._members_in_start_order = [self.source, *(m for s in self.stages for m in (*s.wrappers, *s.members)), *self.sinks]
        self._source_stats = StageStats("source", plugins={self.source.name: self.source.stats})
        self._sink_stats = StageStats("sink", plugins={m.name: m.stats for m in self.sinks})
        self._started: list[_Member] = []
        self._iterator: Iterator[Frame] | None = None
        self.expected_frames: int | None = None
        self._running = False

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        config: PipelineConfig | dict[str, Any] | str | Path,
        overrides: list[str] | None = None,
        *,
        registry: Registry | None = None,
        mode: str | None = None,
        max_frames: int | None = None,
    ) -> Pipeline:
        """Build from a ``PipelineConfig``, a config mapping or a YAML file (with ``--set``-style
        overrides). Every plugin name, parameter and type is checked before anything runs."""
        where = ""
        if isinstance(config, (str, Path)):
            where = str(config)
            config = load_config(config, overrides)
        elif isinstance(config, dict):
            config = PipelineConfig.parse(apply_overrides(copy.deepcopy(config), overrides or []))
        where = where or config.where
        eng = config.engine
        return cls(
            source=config.source,
            detect=config.detect,
            recognize=config.recognize,
            interpret=config.interpret,
            decide=config.decide,
            sinks=config.sinks,
            name=config.name,
            mode=mode or eng.mode,
            queue_size=eng.queue_size,
            overflow=eng.overflow,
            on_error=eng.on_error if isinstance(eng.on_error, str) else dict(eng.on_error),
            max_frames=max_frames or eng.max_frames,
            registry=registry,
            where=where,
        )

    def _resolve(self, entry: Any, stage: str, path: str, policy: str) -> _Member:
        registry = self._registry or default_registry()
        where = self._where
        if isinstance(entry, dict):
            entry = PluginSpec.model_validate(entry)
        if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
            entry = PluginSpec(plugin=entry[0], params=dict(entry[1] or {}))
        if isinstance(entry, str):
            entry = PluginSpec(plugin=entry)
        if isinstance(entry, PluginSpec):
            info = registry.get(entry.plugin, path=f"{path}.plugin", where=where)
            _check_role(info.cls, info.name, stage, path, where)
            instance = info.instantiate(entry.params, path=f"{path}.params", where=where)
            name, policy = entry.name or entry.plugin, entry.on_error or policy
        elif inspect.isclass(entry):
            info = PluginInfo(name=getattr(entry, "drid_name", None) or _kebab(entry.__name__), target=entry.__qualname__, cls=entry)
            _check_role(entry, info.name, stage, path, where)
            instance = info.instantiate({}, path=f"{path}.params", where=where)
            name = info.name
        elif entry is not None and hooks_of(entry):
            name = getattr(entry, "drid_name", None) or _kebab(type(entry).__name__)
            _check_role(entry, name, stage, path, where)
            instance = entry
        else:
            raise ConfigError(f"expected a plugin (instance, class, name or spec), got {type(entry).__name__}", path=path, where=where)
        unique, n = name, 2
        while unique in self._taken:
            unique, n = f"{name}#{n}", n + 1
        self._taken.add(unique)
        return _Member(unique, instance, stage, policy)

    def _optional_hook(self, member: _Member, hook: str) -> Any:
        """The plugin's implementation of ``hook`` as a function of the spec's arguments by name
        (a plugin may take any subset of them, as pluggy allows), or ``None``."""
        impl = _impl_of(self.pm, hook, member.instance)
        if impl is None:
            return None
        function, argnames = impl.function, tuple(impl.argnames)
        return lambda **kwargs: function(*[kwargs[a] for a in argnames])

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def closed_loop(self) -> bool:
        """Whether the source takes actions back (``drid_act``): then frames run in lock-step."""
        return self._act is not None

    def start(self) -> RunContext:
        """Reset the summary and call ``drid_start`` on every plugin; open the source."""
        if self._running:
            raise DridError(f"pipeline '{self.name}' is already running")
        self.summary = RunSummary(name=self.name, mode=self.mode)
        self._source_stats = StageStats("source", plugins={self.source.name: self.source.stats})
        self._sink_stats = StageStats("sink", plugins={m.name: m.stats for m in self.sinks})
        for m in self._members_in_start_order:
            m.stats.__init__(m.name)  # type: ignore[misc]
        self._source_stats.latency = self.source.stats.latency
        self.summary.stages["source"] = self._source_stats
        for stage in self.stages:
            stage.stats = StageStats(stage.name, plugins={m.name: m.stats for m in (*stage.wrappers, *stage.members)})
            stage.summary = self.summary
            self.summary.stages[stage.name] = stage.stats
        if self.closed_loop:
            # The closed loop's own costs (stepping the world, learning) get a row of their own.
            self._act_stats = PluginStats(f"{self.source.name}:act")
            self._learn_stats = [PluginStats(f"{m.name}:learn") for m, _ in self._learners]
            loop = StageStats("act", plugins={p.name: p for p in (self._act_stats, *self._learn_stats)})
            self.summary.stages["act"] = loop
        if self.sinks:
            self.summary.stages["sink"] = self._sink_stats
        if self.closed_loop and self.mode == "concurrent":
            self.summary.notes.append("closed-loop source: frames run in lock-step (each action before the next frame)")
        context = RunContext(
            name=self.name,
            mode=self.mode,
            stages={"source": [self.source.name], **{s.name: [m.name for m in (*s.wrappers, *s.members)] for s in self.stages}, "sink": [m.name for m in self.sinks]},
            summary=self.summary,
        )
        self._started = []
        self._running = True
        self._t0 = time.perf_counter()
        try:
            for member in self._members_in_start_order:
                if any(m.instance is member.instance for m in self._started):
                    continue
                fn = self._optional_hook(member, "drid_start")
                if fn is not None:
                    try:
                        fn(context=context)
                    except DridError:
                        raise
                    except Exception as exc:
                        raise PluginLoadError(f"plugin '{member.name}' ({member.stage}) failed to start: {type(exc).__name__}: {exc}") from exc
                self._started.append(member)
            try:
                frames = self.source.call({})
            except DridError:
                raise
            except Exception as exc:
                raise SourceError(f"source '{self.source.name}' failed to open: {type(exc).__name__}: {exc}") from exc
            if frames is None:
                raise SourceError(f"source '{self.source.name}' returned no frames iterable from drid_frames")
            total = len(frames) if hasattr(frames, "__len__") else None
            if self.max_frames is not None:
                total = self.max_frames if total is None else min(total, self.max_frames)
                frames = itertools.islice(frames, self.max_frames)
            self.expected_frames = total
            self._iterator = iter(frames)
        except BaseException as exc:
            self.summary.error = str(exc)
            self.close()
            raise
        return context

    def close(self) -> RunSummary:
        """Stop every started plugin (reverse order), even after errors; idempotent."""
        if not self._running:
            return self.summary
        self._running = False
        self.summary.wall_seconds = time.perf_counter() - self._t0
        problems = []
        for member in reversed(self._started):
            fn = self._optional_hook(member, "drid_stop")
            if fn is None:
                continue
            try:
                fn(summary=self.summary)
            except Exception as exc:
                problems.append(f"plugin '{member.name}' failed to stop: {type(exc).__name__}: {exc}")
        self._started = []
        self.summary.notes.extend(problems)
        if problems and self.summary.error is None:
            self.summary.error = problems[0]
            raise PluginLoadError(problems[0])
        return self.summary

    def __enter__(self) -> Pipeline:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- running -------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[FrameRecord]:
        return self.records()

    def records(self) -> Iterator[FrameRecord]:
        """Yield each finished frame's record in frame order (after the sinks have it).

        Ctrl-C stops reading, lets the frames in flight finish, and ends the iteration normally
        with ``summary.interrupted`` set; a second Ctrl-C abandons them (counted as dropped)."""
        owns = not self._running
        if owns:
            self.start()
        concurrent = self.mode == "concurrent" and not self.closed_loop and self.stages
        run: _SequentialRun | _ConcurrentRun = _ConcurrentRun(self) if concurrent else _SequentialRun(self)
        try:
            while True:
                try:
                    state = run.next()
                    if state is None:
                        break
                    yield self._finish(state)
                except KeyboardInterrupt:  # raised in a stage, a sink, or the caller's loop body
                    if self.summary.interrupted:
                        raise
                    self.summary.interrupted = True
                    run.interrupt()
        except DridError as exc:
            self.summary.error = str(exc)
            raise
        except BaseException as exc:
            if not isinstance(exc, GeneratorExit):
                self.summary.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            reason = ("interrupted" if self.summary.interrupted else f"run stopped: {self.summary.error}" if self.summary.error else "consumer stopped early")
            run.shutdown(reason)
            if owns:
                self.close()

    def run(self) -> RunSummary:
        """Run to the end (or ``max_frames``) and return the summary."""
        for _ in self.records():
            pass
        return self.summary

    # -- per-frame work shared by both modes -------------------------------------------------------
    def _process(self, state: _FrameState) -> bool:
        """Run every stage on one frame; ``False`` when a ``skip`` policy dropped it."""
        try:
            for stage in self.stages:
                stage.run(state)
        except _FrameDropped:
            return False
        except StageError:
            self.summary.drop("run failed on this frame")
            raise
        return True

    def _closed_loop_step(self, state: _FrameState, decided: bool) -> None:
        if self._act is None:
            return
        loop = self.summary.stages["act"]
        loop.frames_in += 1
        t0 = time.perf_counter()
        self._act_stats.calls += 1
        try:
            transition = self._act(frame=state.frame, decision=state.decision if decided else None)
            if transition is not None:
                transition = _TRANSITION.validate_python(transition)
        except ValidationError as exc:
            self._act_stats.failures += 1
            raise StageError("source", self.source.name, state.label, f"drid_act returned an invalid Transition: {_first_error(exc)}") from exc
        except (DridError, KeyboardInterrupt):
            self._act_stats.failures += 1
            raise
        except Exception as exc:
            self._act_stats.failures += 1
            raise StageError("source", self.source.name, state.label, exc) from exc
        finally:
            self._act_stats.latency.record(time.perf_counter() - t0)
        state.transition = transition
        if transition is not None and decided:
            for (member, learn), stats in zip(self._learners, self._learn_stats):
                t1 = time.perf_counter()
                stats.calls += 1
                try:
                    learn(transition=transition)
                except DridError:
                    stats.failures += 1
                    raise
                except Exception as exc:
                    stats.failures += 1
                    raise StageError("decide", member.name, state.label, f"drid_learn failed: {type(exc).__name__}: {exc}") from exc
                finally:
                    stats.latency.record(time.perf_counter() - t1)
        loop.latency.record(time.perf_counter() - t0)
        loop.frames_out += 1

    def _finish(self, state: _FrameState) -> FrameRecord:
        record = state.record()
        stats = self._sink_stats
        stats.frames_in += 1
        t_sinks = time.perf_counter()
        for sink in self.sinks:
            t0 = time.perf_counter()
            sink.stats.calls += 1
            try:
                sink.function(record)
            except (KeyboardInterrupt, DridError):
                raise
            except Exception as exc:
                sink.stats.failures += 1
                if sink.policy == "continue":
                    continue
                stats.failed += 1
                self.summary.drop(f"sink '{sink.name}' failed")
                raise StageError("sink", sink.name, state.label, exc) from exc
            finally:
                sink.stats.latency.record(time.perf_counter() - t0)
        stats.latency.record(time.perf_counter() - t_sinks)
        stats.frames_out += 1
        self.summary.frames_out += 1
        return record

    def _close_iterator(self) -> None:
        it, self._iterator = self._iterator, None
        close = getattr(it, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # a source that fails to close must not hide the run's outcome
                self.summary.notes.append(f"source '{self.source.name}' failed to close: {exc}")

    def _read(self, iterator: Iterator[Frame]) -> Frame | None:
        """Next frame from the source, validated and timed; ``None`` at the end."""
        t0 = time.perf_counter()
        try:
            frame = next(iterator)
        except StopIteration:
            return None
        except (DridError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise SourceError(f"source '{self.source.name}' failed after {self.summary.frames_read} frames: {type(exc).__name__}: {exc}") from exc
        finally:
            self.source.stats.latency.record(time.perf_counter() - t0)
        if not isinstance(frame, Frame):
            raise StageError("source", self.source.name, f"#{self.summary.frames_read}", f"yielded a {type(frame).__name__}, expected Frame")
        self.source.stats.calls += 1
        self._source_stats.frames_in += 1
        self._source_stats.frames_out += 1
        self.summary.frames_read += 1
        return frame


def _listify(entries: Any) -> list[Any]:
    if entries is None:
        return []
    if isinstance(entries, tuple) and len(entries) == 2 and isinstance(entries[0], str) and isinstance(entries[1], dict):
        return [entries]  # one (name, params) pair
    if isinstance(entries, (str, dict, PluginSpec)) or hooks_of(entries) or inspect.isclass(entries):
        return [entries]
    return list(entries)


def _check_role(cls_or_obj: Any, name: str, stage: str, path: str, where: str) -> None:
    from drid.pipeline.registry import roles_of

    roles = roles_of(cls_or_obj)
    hooks = hooks_of(cls_or_obj)
    known = [n for n in dir(hookspecs) if n.startswith("drid_")]
    for hook in hooks:
        if hook not in known:
            raise ConfigError(f"plugin '{name}' implements unknown hook '{hook}'{close_matches(hook, known) or ''}", path=path, where=where)
    wanted = {"source": "drid_frames", "sink": "drid_write", **STAGE_HOOKS}[stage]
    if wanted not in hooks:
        can = ", ".join(roles) or "nothing (no hooks)"
        raise ConfigError(f"plugin '{name}' cannot be used as {stage}: it has no {wanted} hook (it can be used as: {can})", path=path, where=where)


class _SequentialRun:
    """Frames one at a time through every stage, on the caller's thread."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe
        self.stopped = False

    def next(self) -> _FrameState | None:
        pipe = self.pipe
        assert pipe._iterator is not None
        while not self.stopped:
            frame = pipe._read(pipe._iterator)
            if frame is None:
                return None
            state = _FrameState(frame)
            try:
                kept = pipe._process(state)
                pipe._closed_loop_step(state, decided=kept)
            except KeyboardInterrupt:
                pipe.summary.drop("interrupted")
                raise
            if kept:
                return state
        return None

    def interrupt(self) -> None:
        self.stopped = True

    def shutdown(self, reason: str) -> None:
        self.pipe._close_iterator()
        lost = self.pipe.summary.frames_read - self.pipe.summary.frames_out - self.pipe.summary.frames_dropped
        if lost > 0:
            self.pipe.summary.drop(reason, lost)


class _ConcurrentRun:
    """Source and each stage in their own thread, joined by bounded queues (backpressure); the
    caller's thread runs the sinks. One worker per stage keeps frames in order."""

    _POLL = 0.05

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe
        n = len(pipe.stages)
        self.queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=pipe.queue_size) for _ in range(n + 1)]
        self.stop_source = threading.Event()
        self.abort = threading.Event()
        self.error: BaseException | None = None
        self.live = bool(getattr(pipe.source.instance, "live", False))
        self.drop_oldest = pipe.overflow == "drop-oldest" and self.live
        if pipe.overflow == "drop-oldest" and not self.live:
            pipe.summary.notes.append("overflow 'drop-oldest' ignored: the source is not live (files never drop frames)")
        self.threads = [threading.Thread(target=self._source_worker, name=f"drid-{pipe.name}-source", daemon=True)]
        for i, stage in enumerate(pipe.stages):
            self.threads.append(threading.Thread(target=self._stage_worker, args=(stage, self.queues[i], self.queues[i + 1]), name=f"drid-{pipe.name}-{stage.name}", daemon=True))
        for t in self.threads:
            t.start()

    def _fail(self, q_out: queue.Queue[Any], exc: BaseException) -> None:
        """Stop reading and send the error downstream after the frames already finished."""
        self.stop_source.set()
        if self.error is None:
            self.error = exc
        self._put(q_out, _Failure(exc))

    def _put(self, q: queue.Queue[Any], item: Any) -> bool:
        while not self.abort.is_set():
            try:
                q.put(item, timeout=self._POLL)
                return True
            except queue.Full:
                continue
        return False

    def _put_dropping_oldest(self, q: queue.Queue[Any], item: Any) -> None:
        while True:
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                try:
                    q.get_nowait()
                    self.pipe.summary.drop(f"drop-oldest: live source ahead of '{self.pipe.stages[0].name}' (queue of {self.pipe.queue_size} full)")
                except queue.Empty:
                    pass

    def _get(self, q: queue.Queue[Any]) -> Any:
        while not self.abort.is_set():
            try:
                return q.get(timeout=self._POLL)
            except queue.Empty:
                continue
        return None

    def _source_worker(self) -> None:
        pipe = self.pipe
        q = self.queues[0]
        try:
            assert pipe._iterator is not None
            while not (self.stop_source.is_set() or self.abort.is_set()):
                frame = pipe._read(pipe._iterator)
                if frame is None:
                    break
                state = _FrameState(frame)
                if self.drop_oldest:
                    self._put_dropping_oldest(q, state)
                elif not self._put(q, state):
                    break
        except BaseException as exc:
            self._fail(q, exc)
        finally:
            pipe._close_iterator()
            self._put(q, _END)

    def _stage_worker(self, stage: _Stage, q_in: queue.Queue[Any], q_out: queue.Queue[Any]) -> None:
        failed = False  # once a failure passed through, later frames are not worked on
        while True:
            item = self._get(q_in)
            if item is None:
                return
            if item is _END:
                self._put(q_out, _END)
                return
            if isinstance(item, _Failure):
                # pass the failure on; frames behind it will not be written (counted at shutdown)
                failed = True
                if not self._put(q_out, item):
                    return
                continue
            if failed:
                continue
            try:
                stage.run(item)
            except _FrameDropped:
                continue
            except BaseException as exc:
                if isinstance(exc, StageError):
                    self.pipe.summary.drop("run failed on this frame")
                self._fail(q_out, exc)
                failed = True
                continue
            if not self._put(q_out, item):
                return

    def next(self) -> _FrameState | None:
        item = self._get(self.queues[-1])
        if isinstance(item, _Failure):
            self.abort.set()
            raise item.error
        if item is None or item is _END:
            return None
        return item

    def interrupt(self) -> None:
        self.stop_source.set()

    def shutdown(self, reason: str) -> None:
        self.abort.set()
        for t in self.threads:
            t.join(timeout=60)
        stuck = [t.name for t in self.threads if t.is_alive()]
        summary = self.pipe.summary
        if stuck:
            summary.notes.append(f"threads still running a plugin call at shutdown: {', '.join(stuck)}")
        lost = summary.frames_read - summary.frames_out - summary.frames_dropped
        if lost > 0:
            summary.drop(reason, lost)
