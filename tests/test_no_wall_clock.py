"""Nothing in the library reads the wall clock directly: time comes from a ``Clock``."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "supportkit"
WALL_CLOCK = re.compile(r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|time\.time\(")
ALLOWED = {"_clock.py"}


def test_only_the_system_clock_reads_the_wall_clock() -> None:
    """Only ``_clock.py`` (SystemClock) may call ``datetime.now()`` or ``time.time()``."""
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name not in ALLOWED
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if WALL_CLOCK.search(line)
    ]
    assert [] == offenders
