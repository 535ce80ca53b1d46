"""drid: perception-to-action pipelines — detect → recognize → interpret → decide.

Plugin authors need ``from drid import hookimpl``; pipeline users need ``Pipeline``; the message
types are re-exported from ``drid.schemas``.
"""

from importlib.metadata import PackageNotFoundError, version

from drid.pipeline import (
    ConfigError,
    DridError,
    Pipeline,
    PipelineConfig,
    PluginLoadError,
    RunContext,
    RunSummary,
    SourceError,
    StageError,
    hookimpl,
    load_config,
)
from drid.schemas import (
    BoundingBox,
    Decision,
    Detection,
    Event,
    Frame,
    FrameRecord,
    LabelScore,
    Recognition,
    Relation,
    Scene,
    SceneObject,
    Transition,
)

try:
    __version__ = version("drid")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "BoundingBox",
    "ConfigError",
    "Decision",
    "Detection",
    "DridError",
    "Event",
    "Frame",
    "FrameRecord",
    "LabelScore",
    "Pipeline",
    "PipelineConfig",
    "PluginLoadError",
    "Recognition",
    "Relation",
    "RunContext",
    "RunSummary",
    "Scene",
    "SceneObject",
    "SourceError",
    "StageError",
    "Transition",
    "__version__",
    "hookimpl",
    "load_config",
]
