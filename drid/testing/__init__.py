"""Test doubles, builders and a plugin check that ship with drid, for plugin authors' tests and ours.

Test doubles (plugins themselves):

* :class:`ListSource` — frames you give it (optionally "live", so drop policies apply).
* :class:`SyntheticSource` — ``n`` generated frames with a moving square; no files needed.
* :class:`CollectSink` — keeps every record it is given and whether it was stopped.
* :class:`CounterWorld` — a tiny deterministic closed-loop source: reward is the action taken,
  the observation counts steps, episodes end after ``episode_length`` steps.
* :class:`BrightRegion` — detects the box around pixels brighter than a threshold.
* :class:`MeanColour` — recognizes detections as ``bright`` or ``dark`` by their crop's mean, and
  answers many calls at once through ``batch_call`` (what a batching stage actor uses).
* :class:`ProcessKiller` — a detector that kills its own process (as the OOM killer would), to
  test how a distributed backend handles a dead worker.

Builders of messages for tests, so no test file keeps its own copy:

* :func:`box` — a ``BoundingBox`` from corners; :func:`box_at` — one standing on a point
  (bottom-centre anchor, the default of zones and lines).
* :func:`detection` — a ``Detection`` of a box.
* :func:`scene_object` — a ``SceneObject`` (tracked by default: ``track_id`` = ``id``).

For plugin authors:

* :func:`check_plugin` — a plugin class checked the way drid will use it (hooks, parameters,
  construction, docstrings, roles); raises ``AssertionError`` naming each problem.
"""

from drid.testing._builders import box, box_at, detection, scene_object
from drid.testing._check import PluginCheck, check_plugin
from drid.testing._doubles import BrightRegion, CollectSink, CounterWorld, ListSource, MeanColour, ProcessKiller, SyntheticSource

__all__ = [
    "BrightRegion",
    "CollectSink",
    "CounterWorld",
    "ListSource",
    "MeanColour",
    "PluginCheck",
    "ProcessKiller",
    "SyntheticSource",
    "box",
    "box_at",
    "check_plugin",
    "detection",
    "scene_object",
]
