"""Every ```python block in docs/ and README.md runs, page by page, in one namespace per page,
twice in the same directory (examples are rerunnable); see tests/docs_examples.py, which
``nox -s examples`` also runs where only ``pip install -e ".[cli]"`` is installed."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

# tests/ is not a package: load the runner it shares with ``nox -s examples`` by path.
_spec = importlib.util.spec_from_file_location(
    "docs_examples", Path(__file__).resolve().parent / "docs_examples.py"
)
assert _spec is not None
assert _spec.loader is not None
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)


@pytest.mark.parametrize("page", runner.PAGES, ids=lambda p: str(p.relative_to(runner.ROOT)))
def test_page_examples_run(page: Path, tmp_path: Path) -> None:
    """The page's python examples run top to bottom twice without error (they assert their
    claims)."""
    runner.run_twice(page, tmp_path)


def test_installs_from_an_index_are_said_to_wait_for_publication() -> None:
    """supportkit is not on a package index yet: wherever docs, READMEs or messages show
    ``pip install supportkit...`` from an index, the same line says "once" it is published
    (beside the checkout form ``pip install -e ...``), so no reader runs a command that fails."""
    sources = [
        *runner.PAGES,
        *sorted((runner.ROOT / "plugins").glob("*/README.md")),
        *sorted((runner.ROOT / "src").rglob("*.py")),
        *sorted((runner.ROOT / "plugins").glob("*/src/**/*.py")),
    ]
    from_index = re.compile(r"pip install [\"']?supportkit[\[-]")
    lines = [
        f"{path.relative_to(runner.ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if from_index.search(line) and "once" not in line.lower()
    ]
    assert [] == lines
