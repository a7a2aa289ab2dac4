"""The metrics benchmark's pandas groupby computes the report's figures (so its timing compares
like with like)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

pytest.importorskip("pandas")
pytest.importorskip("numpy")


def test_benchmark_pandas_figures_equal_the_report(
    load_script: Callable[[str], ModuleType],
) -> None:
    """On 3,000 generated tickets, every figure of the benchmark's pandas groupby (all eight
    groupings) equals the sketch report's, percentiles within 1 %."""
    from supportkit import MetricsAggregator

    bench = load_script("benchmarks/bench_metrics.py")
    cols = bench.generate(3_000, seed=4)
    report = MetricsAggregator(bench.GROUPINGS, tz=bench.TZ).update_columns(cols).report()
    compared, worst = bench.compare_with_pandas(report, bench.pandas_report(cols))
    rows = sum(len(report.table(g)) for g in bench.GROUPINGS)
    assert (True, True) == (compared >= 30 * rows, worst <= 0.01)
