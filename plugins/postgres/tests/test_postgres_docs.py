"""The ``title="needs postgres"`` examples of docs/postgres.md run here, on the test server,
with the page's schema names swapped for fresh ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from supportkit.testing import doc_examples, run_doc_examples

PAGE = Path(__file__).resolve().parents[3] / "docs" / "postgres.md"
TITLE = "needs postgres"


def test_page_examples_run(
    pg_url: str,
    new_schema: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every postgres example of the page runs top to bottom (they assert their claims)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUPPORTKIT_POSTGRES_URL", pg_url)
    text = PAGE.read_text(encoding="utf-8")
    schemas = {}
    for name in ("support", "moved"):
        assert f'"{name}"' in text
        schemas[f'"{name}"'] = f'"{new_schema()}"'
    assert 3 == len(doc_examples(PAGE, TITLE))
    run_doc_examples(PAGE, TITLE, replace=schemas)
