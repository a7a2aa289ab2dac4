"""The docs' examples fenced ```python title="needs supportkit-email"``` run, page by page."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportkit.testing import doc_pages, run_doc_examples

DOCS = Path(__file__).resolve().parents[3] / "docs"
TITLE = "needs supportkit-email"
PAGES = doc_pages(DOCS, TITLE)


def test_the_email_page_has_examples() -> None:
    """docs/plugins/email.md is among the pages with examples for this plugin."""
    assert DOCS / "plugins" / "email.md" in PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's examples for this plugin run top to bottom (they assert their claims)."""
    monkeypatch.chdir(tmp_path)
    run_doc_examples(page, TITLE)
