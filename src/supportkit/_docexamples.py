"""Running the Python examples of Markdown docs pages (``supportkit.testing``).

A plugin's docs examples are fenced ```` ```python title="needs supportkit-<name>" ````: the
core's docs test skips them (the plugin is not installed there) and the plugin's own tests run
them with :func:`run_doc_examples`, which needs no test runner.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_BLOCK = re.compile(r'^```python title="([^"]*)"\n(.*?)^```', re.S | re.M)


def doc_examples(page: str | os.PathLike[str], title: str) -> list[str]:
    """The code of the Markdown *page*'s ```` ```python title="TITLE" ```` blocks, in order."""
    text = Path(page).read_text(encoding="utf-8")
    return [code for found, code in _BLOCK.findall(text) if found == title]


def doc_pages(directory: str | os.PathLike[str], title: str) -> list[Path]:
    """The Markdown pages below *directory* with at least one *title* block, sorted."""
    return [page for page in sorted(Path(directory).rglob("*.md")) if doc_examples(page, title)]


def run_doc_examples(
    page: str | os.PathLike[str], title: str, *, replace: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run the *page*'s *title* blocks top to bottom in one fresh namespace and return it.

    The examples run in the current directory and assert their own claims; a failing one
    raises, its traceback naming the page and block (``email.md[block 2]``). *replace* swaps
    strings in the page's text first (a fresh database schema for the page's own name). A page
    without such a block is a :class:`ValueError`, so a renamed fence cannot pass unnoticed.
    """
    path = Path(page)
    text = path.read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    blocks = [code for found, code in _BLOCK.findall(text) if found == title]
    if not blocks:
        raise ValueError(f'{path}: no ```python title="{title}" block')
    namespace: dict[str, Any] = {"__name__": f"docs_{path.stem.replace('-', '_')}"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{path.name}[block {number}]", "exec"), namespace)
    return namespace
