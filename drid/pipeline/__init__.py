"""Hook specs, plugin registry, config and the staged engine."""

from drid.errors import ConfigError, DridError, PluginLoadError, SourceError, StageError
from drid.pipeline.config import EngineConfig, PipelineConfig, PluginSpec, apply_overrides, load_config
from drid.pipeline.context import RunContext
from drid.pipeline.engine import Pipeline
from drid.pipeline.hookspecs import SKIPPED_META, STAGE_HOOKS, hookimpl, hookspec
from drid.pipeline.registry import ENTRY_POINT_GROUP, PluginInfo, Registry, default_registry
from drid.pipeline.stats import LatencyHistogram, PluginStats, RunSummary, StageStats

__all__ = [
    "ENTRY_POINT_GROUP",
    "SKIPPED_META",
    "STAGE_HOOKS",
    "ConfigError",
    "DridError",
    "EngineConfig",
    "LatencyHistogram",
    "Pipeline",
    "PipelineConfig",
    "PluginInfo",
    "PluginLoadError",
    "PluginSpec",
    "PluginStats",
    "Registry",
    "RunContext",
    "RunSummary",
    "SourceError",
    "StageError",
    "StageStats",
    "apply_overrides",
    "default_registry",
    "hookimpl",
    "hookspec",
    "load_config",
]
