"""The examples of docs/plugins/http.md fenced ``title="needs supportkit-http"`` run, in order,
in one namespace (the core's docs test skips them: it does not install this package)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportkit.testing import doc_examples, run_doc_examples

PAGE = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "http.md"
TITLE = "needs supportkit-http"


def test_page_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example block on the page runs without error (they assert their claims)."""
    monkeypatch.chdir(tmp_path)
    assert len(doc_examples(PAGE, TITLE)) >= 3
    run_doc_examples(PAGE, TITLE)
