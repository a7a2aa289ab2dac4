"""The examples of docs/plugins/http.md fenced ``title="needs supportkit-http"`` run, in order,
in one namespace (the core's docs test skips them: it does not install this package)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "http.md"
BLOCK = re.compile(r'^```python title="needs supportkit-http"\n(.*?)^```', re.S | re.M)


def test_page_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example block on the page runs without error (they assert their claims)."""
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    namespace: dict[str, object] = {"__name__": "docs_http"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{PAGE.name}[block {number}]", "exec"), namespace)
