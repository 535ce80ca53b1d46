"""The staged engine: ``Pipeline`` builds one pluggy ``PluginManager`` per pipeline from the
plugins a config (or code) names, binds each to its stage, and runs the start/stop lifecycle;
each run's frames travel a ``FramePath`` driven by one of the two schedulers."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from drid.errors import ConfigError, DridError, PluginLoadError, SourceError, StageError, validation_message
from drid.pipeline._binding import bind, plugin_manager
from drid.pipeline._frame_path import FramePath
from drid.pipeline._members import listify, resolve_member
from drid.pipeline._schedulers import ConcurrentRun, SequentialRun
from drid.pipeline._signals import Interrupted, signal_name, stop_signals, whole
from drid.pipeline._stages import STAGE_TYPES, Member, Stage
from drid.pipeline._wrappers import bridge_wrappers
from drid.pipeline.config import EngineConfig, PipelineConfig, apply_overrides, load_config
from drid.pipeline.context import RunContext
from drid.pipeline.hookspecs import STAGE_HOOKS
from drid.pipeline.registry import Registry
from drid.pipeline.stats import RunSummary
from drid.schemas import FrameRecord

__all__ = ["Pipeline"]



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
        try:
            engine = EngineConfig(mode=mode, queue_size=queue_size, overflow=overflow, on_error=on_error, max_frames=max_frames)
        except ValidationError as exc:
            loc, msg = validation_message(exc)
            raise ConfigError(msg, path=f"engine.{loc}" if loc else "engine", where=where) from None
        self.engine = engine
        self.name = name
        self.mode = engine.mode
        self.queue_size = engine.queue_size
        self.overflow = engine.overflow
        self.max_frames = engine.max_frames
        self._where = where
        self._registry = registry
        self._taken: set[str] = set()

        self.source = self._member(source, "source", "source", engine.policy("source"))
        members: dict[str, list[Member]] = {
            stage: [self._member(e, stage, f"{stage}[{i}]", engine.policy(stage)) for i, e in enumerate(listify(entries))]
            for stage, entries in (("detect", detect), ("recognize", recognize), ("interpret", interpret))
        }
        members["decide"] = [self._member(decide, "decide", "decide", engine.policy("decide"))] if decide is not None else []
        self.sinks = [self._member(e, "sink", f"sinks[{i}]", engine.policy("sink")) for i, e in enumerate(listify(sinks))]

        self.summary = RunSummary(name=name, mode=self.mode)
        everything = [self.source, *(m for ms in members.values() for m in ms), *self.sinks]
        self.pm = plugin_manager([(m.name, m.instance, m.path) for m in everything], where=where)

        self.source.bind(self.pm, "drid_frames")
        self._act = bind(self.pm, self.source.instance, "drid_act")
        for sink in self.sinks:
            sink.bind(self.pm, "drid_write")
        self.stages: list[Stage] = []
        for stage_name, hook in STAGE_HOOKS.items():
            if not members[stage_name]:
                continue
            for m in members[stage_name]:
                m.bind(self.pm, hook)
            self.stages.append(STAGE_TYPES[stage_name](stage_name, members[stage_name], self.summary))
        self._learners = [(m, f) for m in members["decide"] if (f := bind(self.pm, m.instance, "drid_learn")) is not None]
        bridge_wrappers(self.pm, self.stages)
        self._members_in_start_order = [self.source, *(m for s in self.stages for m in (*s.wrappers, *s.members)), *self.sinks]
        self._started: list[Member] = []
        self._path: FramePath | None = None
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
            on_error={str(k): v for k, v in eng.on_error.items()},
            max_frames=max_frames or eng.max_frames,
            registry=registry,
            where=where,
        )

    def _member(self, entry: Any, stage: str, path: str, policy: str) -> Member:
        return resolve_member(entry, stage, path, policy, registry=self._registry, where=self._where, taken=self._taken)

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def closed_loop(self) -> bool:
        """Whether the source takes actions back (``drid_act``): then frames run in lock-step."""
        return self._act is not None

    def start(self) -> RunContext:
        """Fresh stats and summary, ``drid_start`` on every plugin, then open the source."""
        if self._running:
            raise DridError(f"pipeline '{self.name}' is already running")
        self.summary = RunSummary(name=self.name, mode=self.mode)
        self.source.reset_stats()
        for m in self.sinks:
            m.reset_stats()
        for stage in self.stages:
            stage.reset(self.summary)
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
                begin = bind(self.pm, member.instance, "drid_start")
                if begin is not None:
                    try:
                        begin(context=context)
                    except StageError:
                        raise
                    except DridError as exc:
                        raise _attributed(exc, member, self._where) from exc
                    except Exception as exc:
                        raise PluginLoadError(f"plugin '{member.name}' ({member.stage}) failed to start: {type(exc).__name__}: {exc}") from exc
                self._started.append(member)
            try:
                frames = self.source.call({})
            except StageError:
                raise
            except DridError as exc:
                raise _attributed(exc, self.source, self._where) from exc
            except Exception as exc:
                raise SourceError(f"source '{self.source.name}' failed to open: {type(exc).__name__}: {exc}") from exc
            if frames is None:
                raise SourceError(f"source '{self.source.name}' returned no frames iterable from drid_frames")
            try:
                total: int | None = len(frames)
            except TypeError:  # no length, or one the source does not know (a stream, a probe that failed)
                total = None
            if self.max_frames is not None:
                total = self.max_frames if total is None else min(total, self.max_frames)
                frames = itertools.islice(frames, self.max_frames)
            self.expected_frames = total
            self._path = FramePath(iter(frames), source=self.source, stages=self.stages, sinks=self.sinks, summary=self.summary, act=self._act, learners=self._learners)
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
        with whole():  # a stop signal waits until every sink is closed (a video stays playable)
            for member in reversed(self._started):
                end = bind(self.pm, member.instance, "drid_stop")
                if end is None:
                    continue
                try:
                    end(summary=self.summary)
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

    def records(self, on_interrupt: Callable[[RunSummary, int, bool], None] | None = None) -> Generator[FrameRecord, None, None]:
        """Yield each finished frame's record in frame order (after the sinks have it).

        Ctrl-C (SIGINT, and SIGTERM under :func:`~drid.pipeline.report.run_pipeline`) stops
        reading, lets the frames in flight finish, and ends the iteration normally with
        ``summary.interrupted`` set; a second one abandons them (counted as dropped) and raises
        ``KeyboardInterrupt``. ``on_interrupt(summary, in_flight, abandoned)`` is told of each
        (``drid run`` prints a line)."""
        owns = not self._running
        with stop_signals(sigterm=False):
            if owns:
                self.start()
            path = self._path
            assert path is not None
            run: SequentialRun | ConcurrentRun
            if self.mode == "concurrent" and not self.closed_loop and self.stages:
                run = ConcurrentRun(path, name=self.name, queue_size=self.queue_size, overflow=self.overflow)
            else:
                run = SequentialRun(path)
            abandoned = False
            try:
                while True:
                    try:
                        state = run.next()
                        if state is None:
                            break
                        record = path.finish(state)
                        if record is not None:
                            yield record
                    except KeyboardInterrupt as exc:  # raised in a stage, a sink, or the caller's loop body
                        if self.summary.interrupted:
                            raise  # the second: abandon the frames in flight (below)
                        self.summary.interrupted = True
                        self.summary.signal = signal_name(exc.signum) if isinstance(exc, Interrupted) else "SIGINT"
                        run.interrupt()
                        if on_interrupt is not None:
                            on_interrupt(self.summary, self._in_flight(), False)
            except DridError as exc:
                self.summary.error = str(exc)
                raise
            except KeyboardInterrupt:
                # A second stop signal (wherever it struck, even while the first was handled).
                abandoned = self.summary.interrupted = True
                self.summary.signal = self.summary.signal or "SIGINT"
                if on_interrupt is not None:
                    on_interrupt(self.summary, self._in_flight(), True)
                raise
            except BaseException as exc:
                if not isinstance(exc, GeneratorExit):
                    self.summary.error = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                if abandoned:
                    reason = "abandoned at the second interrupt"
                else:
                    reason = "interrupted" if self.summary.interrupted else f"run stopped: {self.summary.error}" if self.summary.error else "consumer stopped early"
                run.shutdown(reason, wait=1.0 if abandoned else 60.0)
                if owns:
                    self.close()

    def _in_flight(self) -> int:
        return self.summary.frames_read - self.summary.frames_out - self.summary.frames_dropped

    def run(self, on_record: Callable[[FrameRecord], Any] | None = None,
            on_interrupt: Callable[[RunSummary, int, bool], None] | None = None) -> RunSummary:
        """Run to the end (or ``max_frames``) and return the summary; ``on_record`` sees each
        record (a progress bar, say). A stop signal that strikes inside ``on_record`` stops the
        run as one anywhere else does: the frames in flight finish."""
        records = self.records(on_interrupt)
        pending: BaseException | None = None
        try:
            while True:
                try:
                    if pending is None:
                        record = next(records)
                    else:
                        signal_, pending = pending, None
                        record = records.throw(signal_)
                except StopIteration:
                    break
                if on_record is not None:
                    try:
                        on_record(record)
                    except KeyboardInterrupt as exc:
                        pending = exc  # handed to the run, where it is handled like any other
        finally:
            records.close()
        return self.summary


def _attributed(exc: DridError, member: Member, where: str) -> DridError:
    """``exc``, raised by ``member`` before the first frame, as an error that names the plugin and
    its place in the config (plugins raise without naming themselves: a config may rename them)."""
    text = str(exc)
    if f"'{member.name}'" in text or text.startswith(f"{member.name}:"):
        return exc  # it names the plugin already
    if isinstance(exc, ConfigError):
        detail = f"{exc.path}: {exc.message}" if exc.path else exc.message
        return ConfigError(f"plugin '{member.name}': {detail}", path=member.path, where=exc.where or where)
    try:
        return type(exc)(f"{member.path}: plugin '{member.name}': {text}")
    except TypeError:  # a subclass with a constructor of its own: keep it as it is
        return exc
