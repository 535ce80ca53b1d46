"""The hooks a drid plugin can implement: this module is their reference documentation.

A plugin is a class whose methods carry ``@hookimpl`` (``from drid import hookimpl``) and whose
constructor takes its parameters as keywords. The engine creates one instance per place the
pipeline config names it, registers it in that pipeline's own ``PluginManager`` and calls it only
for the stage it is listed under: a class implementing ``drid_detect`` and ``drid_decide`` that is
listed under ``detect`` is never asked to decide.

Rules that hold for every hook:

* Arguments are frozen pydantic messages (``drid.schemas``), read-only all the way down: arrays
  have their ``writeable`` flag off and ``meta`` mappings refuse writes (copy ``frame.image``
  before drawing on it).
* Return plain messages (or lists of them); the engine validates them once, at the stage boundary,
  and attributes them to your plugin. A wrong return type is reported with your plugin's name, the
  stage and the frame.
* A hook may take any subset of the arguments its spec lists (pluggy matches them by name).
* Raise an exception to signal failure (see *Errors* below); the stage's ``on_error`` policy
  (``fail``, ``skip``, ``continue``) decides what happens to the frame; sinks have the same
  three (``skip`` drops the frame at that sink). ``timeout: SECONDS`` on an entry bounds each
  call: a call past it is a ``TimeoutError`` under the entry's policy. Never swallow
  ``KeyboardInterrupt``.
* In concurrent mode each stage runs in its own thread: a plugin instance is only ever called
  from one thread at a time, but not always the same one. ``drid_start`` and ``drid_stop`` run on
  the caller's thread.
* Stage hooks may also be ``@hookimpl(wrapper=True)`` (list the wrapper under the stage like any
  plugin): ``result = yield`` gives the stage's collected result, one entry per contributing
  plugin in config order (for ``drid_detect`` a list of lists of ``Detection``, for
  ``drid_decide`` the first decision), already validated and attributed; return the replacement
  in the same shape. The place for cross-cutting concerns such as tracking or tracing.

Errors (one contract for every plugin):

* Plugins raise plain exceptions (``ValueError``, ``RuntimeError``, an ``OSError`` …) with a
  message that says what went wrong, and do not put their own name in it: the engine names the
  plugin (as the config names the instance), the stage, the frame and the plugin's place in the
  config, e.g. ``detect[0]: stage 'detect', plugin 'motion', frame clip.mp4#3: RuntimeError: …``
  (a ``drid.StageError``, exit code 1 in the CLI).
* ``drid.ConfigError`` means "the config is wrong, found before any frame is read": raise it from
  the constructor (bad parameters; a ``Params`` model does this for you) or from ``drid_start``
  (a model file that is missing). Raised by a hook once frames are flowing (``drid_learn``,
  ``drid_decide``, a sink …) it is reported like any other exception, as a ``StageError`` naming
  the plugin.
* ``drid.SourceError`` is for a source whose input cannot be read at all (a missing or corrupt
  file, a camera that does not open).
* A return value of the wrong type is reported the same way, with the first validation problem
  (``returned an invalid list[Detection]: [0].box: …``).

Class attributes the engine reads (all optional):

* ``drid_name`` — the name an instance or class passed to ``Pipeline`` in Python goes by when
  the ``drid`` entry-point group does not know its class (a registered class goes by its
  entry-point name, ``MotionDetector()`` by ``motion``; without either, the class name in kebab
  case). A config's ``name:`` overrides all of them.
* ``live`` — sources: ``True`` when frames are lost if the pipeline falls behind (a camera); only
  then may the concurrent engine drop frames under ``overflow: drop-oldest``.
* ``labels`` — detectors: the labels it can output; ``drid eval detector`` evaluates these labels
  by default.
* ``batch_call(hook, calls)`` — a method of a stage plugin served by a Ray stage actor
  (``actor:`` in a config): the actor hands it the calls that arrived together, a list of keyword
  dicts for ``hook``, and expects one result per call, in order. Without it each call is made on
  its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, get_args

import pluggy

if TYPE_CHECKING:
    from drid.pipeline.context import RunContext, RunSummary
    from drid.schemas import Decision, Detection, Frame, FrameRecord, Recognition, Scene, SceneObject, Transition

PROJECT = "drid"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorator for plugin methods: ``@hookimpl`` or ``@hookimpl(wrapper=True)``.
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- lifecycle ------------------------------------------------------------------------------


@hookspec
def drid_start(context: RunContext) -> None:
    """Called once on every plugin of the pipeline before the first frame is read.

    ``context`` says which pipeline is starting (its name, execution mode and the plugins of each
    stage). Open files, load models, allocate buffers here rather than in ``__init__``, so that
    ``drid plugins`` and config validation stay cheap. An exception here aborts the run before any
    frame is read; plugins already started are stopped.
    """


@hookspec
def drid_stop(summary: RunSummary) -> None:
    """Called once on every started plugin after the last frame, in reverse start order, also when
    the run ends by an error or Ctrl-C.

    ``summary`` holds the counts and timings so far. Flush and close what ``drid_start`` opened
    (a sink must leave a complete, readable file). Must not raise for a normal shutdown; an
    exception here is reported but does not stop the other plugins from being stopped.
    """


# -- source ---------------------------------------------------------------------------------


@hookspec(firstresult=True)
def drid_frames() -> Iterable[Frame]:
    """Return the frames this source produces, in order: an iterable or a generator of ``Frame``.

    Called once per run, after ``drid_start``. Frames must have increasing ``index`` values.
    If the iterable has ``__len__``, the progress bar shows a total. A source that can lose frames
    when it falls behind (a camera) sets the class attribute ``live = True``; only then may the
    engine drop frames under its ``drop-oldest`` policy. A frame that cannot be decoded is not
    yielded: count it with ``context.skip_input(reason)`` (the
    ``RunContext`` given to ``drid_start``) and continue; an unreadable input (a
    missing or corrupt file) raises ``drid.SourceError`` naming the path.
    """
    raise NotImplementedError  # a specification: only plugins implement it


@hookspec(firstresult=True)
def drid_act(frame: Frame, decision: Decision | None) -> Transition | None:
    """Closed-loop sources only: apply ``decision.action`` to the world that produced ``frame``.

    Called after the decide stage for every frame, in frame order, before the source is asked for
    its next frame (the engine runs closed loops in lock-step, whatever the execution mode).
    Return the ``Transition`` that resulted (observation, action, reward, next observation,
    termination and truncation flags) or ``None`` when nothing was applied. ``decision`` is ``None``
    when the pipeline has no decide stage; the source then chooses (for example a no-op action).
    """
    raise NotImplementedError  # a specification: only plugins implement it


# -- the four stages ----------------------------------------------------------------------------


@hookspec
def drid_detect(frame: Frame) -> list[Detection]:
    """Find things in ``frame``: return a list of ``Detection`` (empty when nothing is found).

    Collecting: every detector listed under ``detect`` contributes; the stage output is their
    concatenation in config order. Boxes are in the pixel coordinates of ``frame.image``; the
    engine clips them to the frame at the stage boundary and discards a box wholly outside it
    (both counted in the summary's corrections). Leave ``plugin`` empty: the engine fills in your
    name. A detect entry with ``interval: N`` runs on every N-th frame of each source; on the
    others ``frame.meta["detect_skipped"]`` names it, for a wrapping tracker to carry its tracks.
    """
    raise NotImplementedError  # a specification: only plugins implement it


@hookspec
def drid_recognize(frame: Frame, detections: list[Detection]) -> list[Recognition]:
    """Say what the detections are: return ``Recognition`` messages whose ``detection`` field is
    the index of the detection in ``detections`` (the whole stage's detections, in order).

    Collecting: several recognizers may answer for the same detection; the best score wins when
    objects are built for the interpret stage. Recognize in one batch per frame where you can.
    Return an empty list for detections you do not handle (filter by label).
    """
    raise NotImplementedError  # a specification: only plugins implement it


@hookspec
def drid_interpret(frame: Frame, objects: list[SceneObject]) -> Scene:
    """Put the frame's objects into context: return a (partial) ``Scene`` with relations between
    objects, events, named situations, facts in words and a feature vector.

    ``objects`` are the detections joined with their best recognition; their ``id`` is the track
    id when tracked. Collecting: the engine merges the partial scenes of all interpreters
    (``Scene.merge``): objects by id, the rest concatenated without repeats. Keep per-track memory
    (for motion, zones, dwell times) in your instance; frames arrive in order.
    """
    raise NotImplementedError  # a specification: only plugins implement it


@hookspec(firstresult=True)
def drid_decide(frame: Frame, scene: Scene) -> Decision:
    """Choose what to do now: return a ``Decision`` whose ``action`` is what the world (or a
    person) should do, with a ``rationale`` in words naming the facts it used.

    First result wins: one policy decides per frame. ``scene`` is empty (``Scene()``) when the
    pipeline has no interpret stage; closed-loop policies read ``frame.observation`` or
    ``scene.features``.
    """
    raise NotImplementedError  # a specification: only plugins implement it


@hookspec
def drid_learn(transition: Transition) -> None:
    """Learn from the outcome of a decision: called on the decide-stage plugin with the
    ``Transition`` the closed-loop source returned from ``drid_act``, in order, once per step.

    A learning policy stores it and updates itself when it chooses (every step, every N steps,
    at the end of a rollout). Policies that do not learn simply do not implement it.
    """


# -- sinks ----------------------------------------------------------------------------------


@hookspec
def drid_write(record: FrameRecord) -> None:
    """Consume one finished frame: ``record`` holds the frame (with pixels), the stages' outputs,
    the stage timings and faults. Called in frame order, once per frame that was not dropped.

    Write incrementally (one line, one video frame) and flush often enough that an interrupted
    run leaves usable output; release everything in ``drid_stop``.
    """


# -- the vocabulary: stage names, places in a config, error policies (spelled here only) --------

Stage = Literal["detect", "recognize", "interpret", "decide"]
"""A stage of the pipeline (``STAGES`` in order)."""
Place = Literal["source", Stage, "sink"]
"""A place in a pipeline config: the source, a stage or the sinks (``PLACES`` in order)."""
Policy = Literal["fail", "skip", "continue"]
"""What a plugin's exception does to the frame (``ERROR_POLICIES``): stop the run, drop the frame,
or record a ``PluginFault`` and go on."""

SKIPPED_META = "detect_skipped"
"""``Frame.meta`` key set by the detect stage on a frame where some of its entries did not run
(``interval``): their names, in config order. A tracker wrapping the stage reads it to carry those
detectors' tracks instead of counting them as missed."""

STAGES: tuple[str, ...] = get_args(Stage)
PLACES: tuple[str, ...] = get_args(Place)
ERROR_POLICIES: tuple[str, ...] = get_args(Policy)

STAGE_HOOKS = {stage: f"drid_{stage}" for stage in STAGES}
"""The four stage hooks, by stage name, in pipeline order."""

ROLE_HOOKS: dict[str, tuple[str, ...]] = {
    "source": ("drid_frames", "drid_act"),
    **{stage: (hook,) for stage, hook in STAGE_HOOKS.items()},
    "sink": ("drid_write",),
}
ROLE_HOOKS["decide"] += ("drid_learn",)
"""Which hooks make a plugin fit for each place in a pipeline config (the first one is needed,
the others are optional)."""

HOOKS: tuple[str, ...] = tuple(name for name, f in list(globals().items()) if hasattr(f, PROJECT + "_spec"))
"""Every hook specified in this module, in the order of this manual."""
