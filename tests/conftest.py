"""Shared test configuration: Hypothesis profiles.

The default ``ci`` profile is capped so the whole suite stays well under CI's budget; run the
thorough one on demand with ``SUPPORTKIT_HYPOTHESIS=thorough nox -s tests``.
"""

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# derandomize: CI runs the same examples every time, so a red run is reproducible; the
# thorough profile explores afresh.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("SUPPORTKIT_HYPOTHESIS", "ci"))


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def load_script(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Import a script of the repository (``"benchmarks/bench_metrics.py"``) as a module, with
    its directory on ``sys.path`` as when it runs (benchmarks import ``figures``)."""

    def load(relative_path: str) -> ModuleType:
        path = ROOT / relative_path
        monkeypatch.syspath_prepend(str(path.parent))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(params=["memory", "sqlite"])
def desks(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Any
) -> Iterator[Callable[..., Any]]:
    """``desks(*plugins, **kwargs)``: a ``SupportDesk`` on the in-memory store, then (the
    second parametrisation) on a real SQLite file, with only *plugins* (no built-ins, no
    installed plugins) and the test module's ``clock``; closed after the test."""
    from supportkit import InMemoryStore, SqliteStore, SupportDesk
    from supportkit._plugins import PluginHost

    made: list[Any] = []

    def make(*plugins: object, **kwargs: Any) -> Any:
        store = InMemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "d.db")
        host = PluginHost(plugins=plugins, load_entrypoints=False, blocked=["supportkit.builtins"])
        made.append(SupportDesk(store=store, clock=clock, plugins=host, **kwargs))
        return made[-1]

    yield make
    for desk in made:
        desk.close()


#: Fuzz tests skipped in this run (a plugin not installed), named in the fuzz summary.
SKIPPED_FUZZ: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Note each skipped fuzz test (tests/test_fuzz*.py)."""
    if report.skipped and Path(report.fspath).name.startswith("test_fuzz"):
        SKIPPED_FUZZ.append(report.nodeid)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Note each fuzz module skipped whole (a module-level ``importorskip``)."""
    if report.skipped and Path(report.fspath).name.startswith("test_fuzz"):
        SKIPPED_FUZZ.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under ``nox -s fuzz`` (SUPPORTKIT_FUZZ_MIN set), fail a run that tried too few inputs or
    skipped a fuzz test (so every target, the plugins' too, is part of the count)."""
    fuzzkit = sys.modules.get("fuzzkit")
    minimum = int(os.environ.get("SUPPORTKIT_FUZZ_MIN", "0"))
    if fuzzkit is None or exitstatus != 0 or not minimum:
        return
    if fuzzkit.COUNTS["inputs"] < minimum:
        count = fuzzkit.COUNTS["inputs"]
        fuzzkit.SHORTFALLS.append(f"only {count:,} inputs, fewer than {minimum:,}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if SKIPPED_FUZZ:
        skipped = ", ".join(SKIPPED_FUZZ)
        fuzzkit.SHORTFALLS.append(f"skipped (install every plugin in plugins/): {skipped}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the fuzz suite's count of inputs and untyped exceptions (tests/fuzzkit.py)."""
    fuzzkit = sys.modules.get("fuzzkit")
    line = fuzzkit.summary() if fuzzkit is not None else None
    if line is not None:
        terminalreporter.write_sep("=", "fuzz")
        terminalreporter.write_line(line)


@pytest.fixture
def dask_cluster() -> Iterator[Any]:
    """A ``dask.distributed`` LocalCluster of two worker processes (state is pickled between
    processes, as on real workers) with a client, its dashboard on a free port; skips
    without dask."""
    pytest.importorskip("dask.bag")
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        assert all(isinstance(w, distributed.Nanny) for w in cluster.workers.values())
        yield cluster
