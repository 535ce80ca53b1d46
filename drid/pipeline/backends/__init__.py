"""Running one pipeline config over many sources: shards, and the backends that run them.

A *shard* is the config with a few ``--set``-style overrides (``source.params.path=cam3.mp4``);
``expand_shards`` makes them from a ``KEY=VALUES`` spec whose values are a glob, a comma list or
an integer range (``0..7``). Every shard writes its own outputs (sink paths get the shard's name)
and gets its own summary. The ``local`` backend runs shards one after the other in this process;
the ``ray`` backend (optional extra ``drid[ray]``) runs them as Ray tasks across a cluster.
"""

from drid.pipeline.backends.shards import DistributedSummary, Shard, ShardResult, expand_shards, run_sharded

__all__ = ["DistributedSummary", "Shard", "ShardResult", "expand_shards", "run_sharded"]
