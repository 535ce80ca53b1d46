"""The frame path: what happens to one frame, whichever scheduler runs it. Read it from the source,
run it through the stages, step the closed loop (``drid_act``, ``drid_learn``) and hand its record
to the sinks. ``Pipeline.start()`` builds one per run and gives it to the scheduler."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from pydantic import TypeAdapter, ValidationError

from drid.errors import ConfigError, DridError, SourceError, StageError, validation_text
from drid.pipeline._binding import BoundHook, TimedCall
from drid.pipeline._signals import whole
from drid.pipeline._stages import FrameDropped, FrameState, Member, Stage
from drid.pipeline.stats import PluginStats, RunSummary, StageStats
from drid.schemas import Frame, FrameRecord, Transition

__all__ = ["FramePath"]

_TRANSITION = TypeAdapter(Transition)  # validating an instance is only an isinstance check


def _passes_through(exc: BaseException) -> bool:
    """Whether a mid-run exception goes on as it is: a drid error already says what failed and
    where, except a ``ConfigError``, which means "before any frame" and so becomes a
    ``StageError`` naming the plugin."""
    return isinstance(exc, DridError) and not isinstance(exc, ConfigError)


class FramePath:
    """One run's frame path over ``frames`` (the source's opened iterator). Counts go to
    ``summary``; ``act`` and ``learners`` are the closed loop's bound hooks (``None``/empty when
    the source is open-loop)."""

    def __init__(
        self,
        frames: Iterator[Frame],
        *,
        source: Member,
        stages: list[Stage],
        sinks: list[Member],
        summary: RunSummary,
        act: BoundHook | None = None,
        learners: list[tuple[Member, BoundHook]] | None = None,
    ) -> None:
        self.frames: Iterator[Frame] | None = frames
        self.source = source
        self.stages = stages
        self.sinks = sinks
        self.summary = summary
        self.act = act
        self.learners = learners or []
        self.live = bool(getattr(source.instance, "live", False))
        # A source entry's ``timeout`` bounds the wait for each frame (a camera that hangs).
        self._timed_next = None if source.timeout is None else TimedCall(lambda _: next(frames), source.timeout)
        self.source_stats = StageStats("source", plugins={source.name: source.stats}, latency=source.stats.latency)
        self.sink_stats = StageStats("sink", plugins={m.name: m.stats for m in sinks})
        summary.stages["source"] = self.source_stats
        for stage in stages:
            summary.stages[stage.name] = stage.stats
        if act is not None:
            # The closed loop's own costs (stepping the world, learning) get a row of their own.
            self.act_stats = PluginStats(f"{source.name}:act")
            self.learn_stats = [PluginStats(f"{m.name}:learn") for m, _ in self.learners]
            summary.stages["act"] = StageStats("act", plugins={p.name: p for p in (self.act_stats, *self.learn_stats)})
        if sinks:
            summary.stages["sink"] = self.sink_stats
        self._sinks_noted: set[str] = set()

    # -- the source ------------------------------------------------------------------------------
    def read(self) -> FrameState | None:
        """The next frame from the source, validated and timed; ``None`` at the end."""
        assert self.frames is not None
        t0 = time.perf_counter()
        try:
            frame = next(self.frames) if self._timed_next is None else self._timed_next({})
        except StopIteration:
            if self.summary.frames_read == 0:
                skipped = sum(self.summary.source_skips.values())
                why = f": {skipped} inputs could not be decoded" if skipped else ""
                raise SourceError(f"source '{self.source.name}' produced no frames{why}") from None
            return None
        except ConfigError as exc:
            if self.summary.frames_read == 0:
                raise  # nothing read yet: still a config problem
            raise StageError("source", self.source.name, f"#{self.summary.frames_read}", exc, path=self.source.path) from exc
        except (DridError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise SourceError(f"source '{self.source.name}' failed after {self.summary.frames_read} frames: {type(exc).__name__}: {exc}") from exc
        finally:
            self.source.stats.latency.record(time.perf_counter() - t0)
        if not isinstance(frame, Frame):
            raise StageError("source", self.source.name, f"#{self.summary.frames_read}", f"yielded a {type(frame).__name__}, expected Frame", path=self.source.path)
        self.source.stats.calls += 1
        self.source_stats.frames_in += 1
        self.source_stats.frames_out += 1
        self.summary.frames_read += 1
        return FrameState(frame)

    def close_source(self) -> None:
        frames, self.frames = self.frames, None
        close = getattr(frames, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # a source that fails to close must not hide the run's outcome
                self.summary.notes.append(f"source '{self.source.name}' failed to close: {exc}")

    # -- the stages and the closed loop ------------------------------------------------------------
    def process(self, state: FrameState) -> bool:
        """Run every stage on one frame; ``False`` when a ``skip`` policy dropped it."""
        try:
            for stage in self.stages:
                stage.run(state)
        except FrameDropped:
            return False
        except StageError:
            self.summary.drop("run failed on this frame")
            raise
        return True

    def closed_loop_step(self, state: FrameState, decided: bool) -> None:
        """Apply the decision to the world (``drid_act``) and let the policy learn from the
        transition (``drid_learn``); nothing for an open-loop source."""
        if self.act is None:
            return
        loop = self.summary.stages["act"]
        loop.frames_in += 1
        t0 = time.perf_counter()
        self.act_stats.calls += 1
        try:
            transition = self.act(frame=state.frame, decision=state.decision if decided else None)
            if transition is not None:
                transition = _TRANSITION.validate_python(transition)
        except ValidationError as exc:
            self.act_stats.failures += 1
            raise StageError("source", self.source.name, state.label, f"drid_act returned an invalid Transition: {validation_text(exc)}", path=self.source.path) from exc
        except KeyboardInterrupt:
            self.act_stats.failures += 1
            raise
        except Exception as exc:
            self.act_stats.failures += 1
            if _passes_through(exc):
                raise
            raise StageError("source", self.source.name, state.label, exc, path=self.source.path) from exc
        finally:
            self.act_stats.latency.record(time.perf_counter() - t0)
        state.transition = transition
        if transition is not None and decided:
            for (member, learn), stats in zip(self.learners, self.learn_stats):
                self._learn(member, learn, stats, transition, state)
        loop.latency.record(time.perf_counter() - t0)
        loop.frames_out += 1

    @staticmethod
    def _learn(member: Member, learn: BoundHook, stats: PluginStats, transition: Any, state: FrameState) -> None:
        t0 = time.perf_counter()
        stats.calls += 1
        try:
            learn(transition=transition)
        except Exception as exc:
            stats.failures += 1
            if _passes_through(exc):
                raise
            raise StageError("decide", member.name, state.label, f"drid_learn failed: {type(exc).__name__}: {exc}", path=member.path) from exc
        finally:
            stats.latency.record(time.perf_counter() - t0)

    # -- the sinks ---------------------------------------------------------------------------------
    def finish(self, state: FrameState) -> FrameRecord | None:
        """The frame's record, written by every sink in order; ``None`` when a sink's ``skip``
        policy dropped it (the sinks after that one do not get it).

        A stop signal that arrives while the sinks write waits until the last one has the frame
        (see ``_signals.whole``): a frame is written to all sinks or, when one fails, to the
        ones before it, which the summary's per-sink counts show."""
        record = state.record()
        stats = self.sink_stats
        stats.frames_in += 1
        t_sinks = time.perf_counter()
        with whole():
            for sink in self.sinks:
                t0 = time.perf_counter()
                sink.stats.calls += 1
                try:
                    sink.call({"record": record})
                except KeyboardInterrupt:
                    sink.stats.failures += 1
                    stats.failed += 1
                    self.summary.drop("interrupted while the sinks wrote it")
                    raise
                except Exception as exc:
                    sink.stats.failures += 1
                    if sink.policy == "continue":
                        if sink.name not in self._sinks_noted:
                            self._sinks_noted.add(sink.name)
                            self.summary.notes.append(f"sink '{sink.name}' failed on frame {state.label} and the run went on (on_error: continue): {type(exc).__name__}: {exc}")
                        continue
                    if sink.policy == "skip":
                        stats.dropped += 1
                        self.summary.drop(f"skipped by policy: sink/{sink.name} raised {type(exc).__name__}")
                        return None
                    stats.failed += 1
                    self.summary.drop(f"sink '{sink.name}' failed")
                    if _passes_through(exc):
                        raise
                    raise StageError("sink", sink.name, state.label, exc, path=sink.path) from exc
                finally:
                    sink.stats.latency.record(time.perf_counter() - t0)
            stats.latency.record(time.perf_counter() - t_sinks)
            stats.frames_out += 1
            self.summary.frames_out += 1
        return record
