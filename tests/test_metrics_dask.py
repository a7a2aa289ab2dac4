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
    """The documented Dask example on a LocalCluster, 6 partitions, gives the one-pass report."""
    import dask.bag as db

    example = _example()
    facts = example.sample_facts(3_000, seed=5)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        merged = example.dask_aggregate(db.from_sequence(facts, npartitions=6))
    one_pass = example._fold(facts, example.GROUPINGS, example.GOALS)
    assert one_pass.report() == merged.report()
