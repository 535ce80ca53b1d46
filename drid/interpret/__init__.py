"""Interpretation building blocks: spatial relations, track memory, calibration, zones and
counting lines, narration, scene features and the condition language shared by the
``scene-rules`` interpreter and the ``rules`` policy. The plugins that use them are in
``drid.interpret.interpreters`` (``relations``, ``scene-rules``) and ``drid.decide.rules``
(``rules``)."""

from drid.interpret.calibration import Calibration, KnownDistance
from drid.interpret.conditions import Condition, SceneView, parse_condition
from drid.interpret.facts import Narrator
from drid.interpret.features import feature_names, scene_features
from drid.interpret.memory import TemporalParams, TrackMemory
from drid.interpret.relations import PREDICATES, RelationArrays, SpatialParams, spatial_relations, spatial_relations_naive, to_relations
from drid.interpret.zones import LineSpec, ZoneSpec, ZoneTracker

__all__ = [
    "PREDICATES",
    "Calibration",
    "Condition",
    "KnownDistance",
    "LineSpec",
    "Narrator",
    "RelationArrays",
    "SceneView",
    "SpatialParams",
    "TemporalParams",
    "TrackMemory",
    "ZoneSpec",
    "ZoneTracker",
    "feature_names",
    "parse_condition",
    "scene_features",
    "spatial_relations",
    "spatial_relations_naive",
    "to_relations",
]
