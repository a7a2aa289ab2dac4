"""The metrics benchmark's pandas groupby computes the report's figures (so its timing compares
like with like)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("pandas")
pytest.importorskip("numpy")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_metrics.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_metrics", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_pandas_figures_equal_the_report() -> None:
    """On 3,000 generated tickets, every figure of the benchmark's pandas groupby (all eight
    groupings) equals the sketch report's, percentiles within 1 %."""
    from supportkit import MetricsAggregator

    bench = _bench()
    cols = bench.generate(3_000, seed=4)
    report = MetricsAggregator(bench.GROUPINGS, tz=bench.TZ).update_columns(cols).report()
    compared, worst = bench.compare_with_pandas(report, bench.pandas_report(cols))
    rows = sum(len(report.table(g)) for g in bench.GROUPINGS)
    assert (True, True) == (compared >= 30 * rows, worst <= 0.01)
