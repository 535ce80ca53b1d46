"""Prometheus metrics of a running pipeline (``GET /metrics``, the text exposition format),
read from the run summary and the live hub at each scrape, so they are the summary's counts:

===========================================  ===============================================
``drid_frames_read_total``                   frames the source yielded
``drid_frames_written_total``                frames every sink took
``drid_frames_dropped_total{reason}``        frames dropped, per reason
``drid_source_skipped_total{reason}``        inputs the source skipped (undecodable, a stream gap)
``drid_stage_frames_total{stage,outcome}``   per stage: ``in``, ``out``, ``dropped``, ``failed``
``drid_stage_latency_seconds{stage}``        histogram of each stage's time per frame
``drid_plugin_latency_seconds{stage,plugin}``  histogram of each plugin's time per call
``drid_plugin_calls_total{stage,plugin}``    calls per plugin
``drid_plugin_failures_total{stage,plugin}``  calls that raised
``drid_queue_depth{stage}``                  frames waiting before the stage
``drid_source_frames_total{source}``         frames written, per source
``drid_source_fps{source}``                  frames/s per source over the last 2 s
``drid_line_crossings_total{source,line,direction}``  crossings of each counting line
``drid_zone_entries_total{source,zone}``     entries into each zone (and ``_exits_total``)
``drid_zone_occupancy{source,zone}``         objects in each zone in the latest frame
``drid_preview_frames_sent_total{source}``   preview frames sent to viewers
``drid_preview_frames_dropped_total{source,reason}``  preview frames viewers missed
``drid_preview_viewers{source}``             viewers connected now
``drid_run_info{pipeline,mode,status}``      1; ``drid_run_seconds`` the time so far
===========================================  ===============================================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from drid.pipeline.stats import LatencyHistogram, RunSummary
from drid.sinks.serve.hub import LiveHub

__all__ = ["PipelineCollector"]


#: Latencies below this share the histogram's first bucket (finer edges are noise to a dashboard).
_SMALLEST_EDGE_S = 1e-5


def _buckets(hist: LatencyHistogram) -> tuple[list[tuple[str, float]], float]:
    edges = [(edge, n) for edge, n in hist.cumulative() if edge >= _SMALLEST_EDGE_S]
    total = sum(list(hist.buckets))
    return [*((f"{edge:.9g}", float(n)) for edge, n in edges), ("+Inf", float(total))], hist.total


class PipelineCollector(Collector):
    """Yields the metrics of the module's table for the summary ``summary()`` returns."""

    def __init__(self, hub: LiveHub, summary: Callable[[], RunSummary | None], name: str, mode: str) -> None:
        self.hub = hub
        self.summary = summary
        self.name = name
        self.mode = mode

    def collect(self) -> Iterator[Metric]:
        summary = self.summary()
        info = GaugeMetricFamily("drid_run_info", "The pipeline served here (value 1)", labels=["pipeline", "mode", "status"])
        info.add_metric([self.name, self.mode, self.hub.status], 1)
        yield info
        yield GaugeMetricFamily("drid_run_seconds", "Seconds since the run started (its length once it ended)", value=self.hub.elapsed())
        if summary is not None:
            yield from self._summary(summary)
        yield from self._sources()

    def _summary(self, summary: RunSummary) -> Iterator[Metric]:
        snap = summary.snapshot(elapsed=self.hub.elapsed())
        yield CounterMetricFamily("drid_frames_read", "Frames the source yielded", value=snap["frames_read"])
        yield CounterMetricFamily("drid_frames_written", "Frames every sink took", value=snap["frames_out"])
        dropped = CounterMetricFamily("drid_frames_dropped", "Frames dropped, per reason", labels=["reason"])
        for reason, n in sorted(snap["drops"].items()):
            dropped.add_metric([reason], n)
        yield dropped
        skipped = CounterMetricFamily("drid_source_skipped", "Inputs the source could not turn into frames, per reason", labels=["reason"])
        for reason, n in sorted(snap["source_skips"].items()):
            skipped.add_metric([reason], n)
        yield skipped
        frames = CounterMetricFamily("drid_stage_frames", "Frames per stage and outcome (in, out, dropped, failed)", labels=["stage", "outcome"])
        depth = GaugeMetricFamily("drid_queue_depth", "Frames handed on by the place before the stage and not taken yet", labels=["stage"])
        calls = CounterMetricFamily("drid_plugin_calls", "Calls per plugin", labels=["stage", "plugin"])
        failures = CounterMetricFamily("drid_plugin_failures", "Calls per plugin that raised", labels=["stage", "plugin"])
        stage_lat = HistogramMetricFamily("drid_stage_latency_seconds", "Time per frame in each stage", labels=["stage"])
        plugin_lat = HistogramMetricFamily("drid_plugin_latency_seconds", "Time per call of each plugin", labels=["stage", "plugin"])
        stages: dict[str, Any] = dict(summary.stages)
        for name, entry in snap["stages"].items():
            for outcome in ("frames_in", "frames_out", "dropped", "failed"):
                frames.add_metric([name, outcome.removeprefix("frames_")], entry[outcome])
            depth.add_metric([name], entry["waiting"])
            st = stages.get(name)
            if st is None:
                continue
            buckets, total = _buckets(st.latency)
            stage_lat.add_metric([name], buckets, total)
            for plugin, ps in dict(st.plugins).items():
                calls.add_metric([name, plugin], ps.calls)
                failures.add_metric([name, plugin], ps.failures)
                buckets, total = _buckets(ps.latency)
                plugin_lat.add_metric([name, plugin], buckets, total)
        yield from (frames, depth, calls, failures, stage_lat, plugin_lat)

    def _sources(self) -> Iterator[Metric]:
        now = time.monotonic()
        out = CounterMetricFamily("drid_source_frames", "Frames written, per source", labels=["source"])
        fps = GaugeMetricFamily("drid_source_fps", "Frames written per second over the last 2 s, per source", labels=["source"])
        crossings = CounterMetricFamily("drid_line_crossings", "Crossings of each counting line, per direction", labels=["source", "line", "direction"])
        entries = CounterMetricFamily("drid_zone_entries", "Entries into each zone", labels=["source", "zone"])
        exits = CounterMetricFamily("drid_zone_exits", "Exits from each zone", labels=["source", "zone"])
        occupancy = GaugeMetricFamily("drid_zone_occupancy", "Objects in each zone in the latest frame", labels=["source", "zone"])
        sent = CounterMetricFamily("drid_preview_frames_sent", "Preview frames sent to viewers", labels=["source"])
        missed = CounterMetricFamily("drid_preview_frames_dropped", "Preview frames viewers missed, per reason", labels=["source", "reason"])
        viewers = GaugeMetricFamily("drid_preview_viewers", "Preview viewers connected now", labels=["source"])
        for view in list(self.hub.order):
            out.add_metric([view.name], view.seq)
            fps.add_metric([view.name], view.fps(now))
            for line, counts in dict(view.lines).items():
                for direction, n in dict(counts).items():
                    crossings.add_metric([view.name, line, direction], n)
            occupied = dict(view.occupancy)
            for zone, counts in dict(view.zones).items():
                entries.add_metric([view.name, zone], counts.get("entered", 0))
                exits.add_metric([view.name, zone], counts.get("exited", 0))
            for zone in sorted(set(view.zones) | set(occupied)):
                occupancy.add_metric([view.name, zone], occupied.get(zone, 0))
            preview = self.hub.preview_counts(view)
            sent.add_metric([view.name], preview["sent"])
            for reason, n in sorted(preview["dropped"].items()):
                missed.add_metric([view.name, reason], n)
            viewers.add_metric([view.name], preview["viewers"])
        yield from (out, fps, crossings, entries, exits, occupancy, sent, missed, viewers)
