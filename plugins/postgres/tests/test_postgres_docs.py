"""The ``title="needs postgres"`` examples of docs/postgres.md run here, on the test server,
with the page's schema names swapped for fresh ones."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[3] / "docs" / "postgres.md"
BLOCK = re.compile(r'^```python title="needs postgres"\n(.*?)^```', re.S | re.M)


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
    for name in ("support", "moved"):
        assert f'"{name}"' in text
        text = text.replace(f'"{name}"', f'"{new_schema()}"')
    blocks = BLOCK.findall(text)
    assert 3 == len(blocks)
    namespace: dict[str, object] = {"__name__": "docs_postgres"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"postgres.md[block {number}]", "exec"), namespace)
