"""drid: perception-to-action pipelines — detect → recognize → interpret → decide.

Plugin authors need ``from drid import hookimpl`` (and ``Plugin``/``PluginParams`` to declare
parameters once; ``Sized`` for a source whose length is known); pipeline users need ``Pipeline``;
the message types are re-exported from ``drid.schemas``.
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
from drid.pipeline.params import Plugin, PluginParams
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
from drid.sources.media import Sized

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
    "Plugin",
    "PluginLoadError",
    "PluginParams",
    "Recognition",
    "Relation",
    "RunContext",
    "RunSummary",
    "Scene",
    "SceneObject",
    "Sized",
    "SourceError",
    "StageError",
    "Transition",
    "__version__",
    "hookimpl",
    "load_config",
]
