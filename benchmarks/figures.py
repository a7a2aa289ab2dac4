"""The figures every benchmark reports: ``--quick``, ``--json PATH`` and ``--compare OLD.json``.

A benchmark adds the options with ``add_options(parser)``, collects its headline figures in a
flat ``{name: number}`` mapping whose names stay stable between versions, and ends with
``finish(args, figures)``: that writes them as JSON (``--json``) and, with ``--compare``, prints
each figure beside the same figure of an earlier run. Names end in their unit: ``_per_s``
(higher is better), ``_us``, ``_ms`` or ``_s`` (lower is better), ``_x`` (a ratio, higher is
better). Names are unique across all benchmarks, so ``nox -s bench -- --json all.json`` can
merge every benchmark's figures into one file and ``--compare all.json`` works per script.

    python benchmarks/figures.py merge OUT.json PART.json ...   # used by the nox session
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

LOWER_IS_BETTER = ("_us", "_ms", "_s")


def add_options(parser: argparse.ArgumentParser, quick: str = "a short run") -> None:
    """Add ``--quick`` (with its help text), ``--json PATH`` and ``--compare OLD.json``."""
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--json", type=Path, help="write the figures as a flat JSON object")
    parser.add_argument("--compare", type=Path, help="print the change from an earlier --json")


def load_line() -> str:
    """The load average beside the core count: figures on a shared machine need it."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"load average {load} on {os.cpu_count()} cores"


def finish(args: argparse.Namespace, figures: Mapping[str, float]) -> None:
    """Write *figures* to ``args.json`` and print the comparison with ``args.compare``."""
    if args.json:
        args.json.write_text(json.dumps(dict(figures), indent=2, sort_keys=True) + "\n")
    if args.compare:
        print(compare(json.loads(args.compare.read_text()), figures, args.compare.name))


def compare(old: Mapping[str, float], new: Mapping[str, float], label: str = "old") -> str:
    """One line per figure of *new*: the old value, the new one and the change."""
    lines = [f"compared with {label}:", f"{'figure':<36} {'before':>14} {'now':>14} {'change':>8}"]
    for name, value in new.items():
        before = old.get(name)
        if not isinstance(before, int | float) or not before:
            lines.append(f"{name:<36} {'-':>14} {value:>14,.2f}  (new)")
            continue
        change = value / before - 1
        lower = name.endswith(LOWER_IS_BETTER) and not name.endswith("_per_s")
        better = change < 0 if lower else change > 0
        verdict = "" if abs(change) < 0.05 else ("better" if better else "worse")
        lines.append(f"{name:<36} {before:>14,.2f} {value:>14,.2f} {change:>+8.1%} {verdict}")
    return "\n".join(lines)


def merge(out: Path, parts: list[Path]) -> None:
    """Merge per-benchmark figure files into one; a name found twice is an error."""
    merged: dict[str, float] = {}
    for part in parts:
        for name, value in json.loads(part.read_text()).items():
            if name in merged:
                raise SystemExit(f"figure {name!r} is reported by two benchmarks ({part.name})")
            merged[name] = value
    out.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "merge":
        raise SystemExit(__doc__)
    merge(Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]])
