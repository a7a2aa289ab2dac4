"""The docs' examples fenced ```python title="needs supportkit-github"``` run, page by page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BLOCK = re.compile(r'^```python title="needs supportkit-github"\n(.*?)^```', re.S | re.M)
PAGES = [p for p in sorted((ROOT / "docs").rglob("*.md")) if BLOCK.search(p.read_text("utf-8"))]


def test_the_github_page_has_examples() -> None:
    """docs/plugins/github.md is among the pages with examples for this plugin."""
    assert ROOT / "docs" / "plugins" / "github.md" in PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's examples for this plugin run top to bottom (they assert their claims)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), 1):
        exec(compile(block, f"{page.name}[block {number}]", "exec"), namespace)
