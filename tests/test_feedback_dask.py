"""The product feedback report's aggregator on a dask.distributed LocalCluster equals one pass."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any


def test_dask_partitions_merge_to_the_single_pass_feedback(
    load_script: Callable[[str], ModuleType], dask_cluster: Any
) -> None:
    """The documented Dask example on a multi-process LocalCluster (ticket logs read on the
    workers, aggregator state pickled between processes, incidents and their problems in
    different shards) gives exactly the one-pass report."""
    from supportkit import feedback

    example = load_script("examples/dask_feedback.py")
    shards = [(seed, 400) for seed in range(6)]
    merged = example.dask_feedback(shards, example.shard_logs)
    events = [e for shard in shards for log in example.shard_logs(shard) for e in log]
    one_pass = feedback(events, now=example.NOW, window=example.WINDOW, weights=example.WEIGHTS)
    report = merged.result()
    assert one_pass == report
    assert report.top_problems[0]["problem"].startswith("S0-")  # subjects from shard 0
    assert any(row["volume"] for row in report.top_problems)  # the data exercise every part
    assert report.escalations
    assert report.fix_seconds["count"]
    assert report.waiting
