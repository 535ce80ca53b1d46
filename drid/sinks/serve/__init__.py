"""The live view: the ``serve`` sink (a web page of the running pipeline and its Prometheus
metrics, served by the pipeline process). The web libraries are imported when a run starts, so
listing or checking plugins does not need the ``serve`` extra."""

from drid.sinks.serve.plugin import ServeSink

__all__ = ["ServeSink"]
