"""Every ```python block in docs/ and README.md runs, page by page, in one namespace per page,
twice in the same directory (examples are rerunnable); see tests/docs_examples.py, which
``nox -s examples`` also runs where only ``pip install -e ".[cli]"`` is installed."""

from __future__ import annotations

import importlib.util
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
