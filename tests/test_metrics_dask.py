"""The metrics aggregators on a dask.distributed LocalCluster equal one pass."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "dask_metrics.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dask_metrics_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dask_partitions_merge_to_the_single_pass_report() -> None:
    """The documented Dask example on a multi-process LocalCluster (shards loaded on the
    workers, aggregator state pickled between processes) gives the one-pass report."""
    example = _example()
    shards = [(seed, 500) for seed in range(6)]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        assert all(isinstance(w, distributed.Nanny) for w in cluster.workers.values())
        merged = example.dask_aggregate(shards, example.shard_facts)
    facts = [f for shard in shards for f in example.shard_facts(shard)]
    one_pass = example._fold(facts, example.GROUPINGS, example.GOALS)
    assert one_pass.report() == merged.report()
