"""The metrics aggregators on a dask.distributed LocalCluster equal one pass."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any


def test_dask_partitions_merge_to_the_single_pass_report(
    load_script: Callable[[str], ModuleType], dask_cluster: Any
) -> None:
    """The documented Dask example on a multi-process LocalCluster (shards loaded on the
    workers, aggregator state pickled between processes) gives the one-pass report."""
    example = load_script("examples/dask_metrics.py")
    shards = [(seed, 500) for seed in range(6)]
    merged = example.dask_aggregate(shards, example.shard_facts)
    facts = [f for shard in shards for f in example.shard_facts(shard)]
    one_pass = example._fold(facts, example.GROUPINGS, example.GOALS)
    assert one_pass.report() == merged.report()
