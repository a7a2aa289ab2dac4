"""Run every ```python block of docs/ and README.md, page by page, in one namespace per page.

Used two ways: ``tests/test_docs_examples.py`` runs it under pytest, and ``nox -s examples``
runs ``python tests/docs_examples.py`` in a virtual environment with nothing but the README's
``pip install -e ".[cli]"``, so an example that needs pytest or another extra fails there.
Each page runs twice in the same working directory: an example must be rerunnable (a file it
leaves behind must not break its second run). Blocks fenced ```` ```python title="needs ..." ````
need a plugin or a server and are run by that plugin's tests instead, except the titles in
:data:`EXTRAS` (``title="needs supportkit[numpy]"``, ``"needs pytest"``, ``"needs pandas"``),
which run wherever that module is installed (the test suite).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"])
BLOCK = re.compile(r"^```python(?: title=\"([^\"]*)\")?\n(.*?)^```", re.S | re.M)
#: Block titles naming something beyond the README's install (an extra of supportkit, a test
#: or data library) and the module it brings: such a block runs where that module is
#: installed (the test suite), and is skipped elsewhere.
EXTRAS = {"needs supportkit[numpy]": "numpy", "needs pytest": "pytest", "needs pandas": "pandas"}


def blocks(page: Path) -> list[str]:
    """The page's python blocks to run here: untitled ones, and those needing an extra whose
    module is installed (not those needing a plugin or a server)."""
    return [
        code
        for title, code in BLOCK.findall(page.read_text(encoding="utf-8"))
        if not title or (title in EXTRAS and importlib.util.find_spec(EXTRAS[title]))
    ]


def run_page(page: Path) -> None:
    """Run the page's python blocks top to bottom in a fresh namespace (in the current
    directory); an example that fails raises."""
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(blocks(page), 1):
        exec(compile(block, f"{page.relative_to(ROOT)}[block {number}]", "exec"), namespace)


def run_twice(page: Path, directory: Path) -> None:
    """Run the page twice in *directory* (the second run sees what the first left)."""
    cwd = Path.cwd()
    os.chdir(directory)
    try:
        run_page(page)
        run_page(page)
    finally:
        os.chdir(cwd)


def main() -> int:
    """Run every page twice; print each failure; exit 1 if any failed."""
    if importlib.util.find_spec("pytest") is not None:
        print(
            "docs_examples: pytest is installed here; run this where only "
            'pip install -e ".[cli]" is (nox -s examples)',
            file=sys.stderr,
        )
        return 2
    failed = 0
    for page in PAGES:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                run_twice(page, Path(tmp))
            except Exception:
                failed += 1
                print(f"FAILED {page.relative_to(ROOT)}", file=sys.stderr)
                traceback.print_exc()
            else:
                print(f"ok     {page.relative_to(ROOT)}")
    print(f"{len(PAGES) - failed} of {len(PAGES)} pages ran twice without error")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
