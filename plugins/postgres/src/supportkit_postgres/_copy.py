"""Move a desk's data from one store into another (a SQLite desk into PostgreSQL)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from supportkit import SqliteStore, SupportkitError
from supportkit.storekit import export_lines, import_lines
from supportkit.typing import DeskStore

from ._store import PostgresStore

__all__ = ["copy_store", "main"]


def copy_store(source: DeskStore, target: DeskStore, *, now: int | None = None) -> int:
    """Copy everything *source* holds into *target*; return how many records were written.

    The same as ``supportkit export`` from *source* piped into ``supportkit import`` into
    *target*: every ticket's log in global append order, the whole message index (inbound and
    outbound ids), the SLA alerts already emitted, the due index, the outbox with its
    delivered and dead messages, the settings versions and other meta documents, live plugin
    state (at *now*, epoch seconds; default: the system clock) and the article logs. Checked
    before anything is written; a *target* holding another history for a ticket is refused
    with a :class:`~supportkit.StoreError` (nothing written), and copying again writes only
    what is missing, so an interrupted copy is finished by running it again.
    """
    lines = list(export_lines(source, now=now))
    result = import_lines(target, lines, f"{source!r}", now=now)
    return sum(result.written.values())


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m supportkit_postgres SQLITE_FILE URL [--schema NAME]``: copy a SQLite desk
    into PostgreSQL."""
    parser = argparse.ArgumentParser(
        prog="python -m supportkit_postgres",
        description="Copy everything a SQLite desk holds (events, message ids, alerts, due "
        "index, outbox, settings versions, plugin state, articles) into a PostgreSQL schema: "
        "supportkit export | supportkit import in one step.",
    )
    parser.add_argument("sqlite", help="the SQLite desk file, e.g. supportkit.sqlite3")
    parser.add_argument("url", help="postgresql://user@host:5432/db")
    parser.add_argument(
        "--schema", default="supportkit", help="target schema (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if not Path(args.sqlite).is_file():  # SqliteStore would create an empty desk there
        print(
            f"python -m supportkit_postgres: error: no SQLite desk at {args.sqlite!r}: "
            "pass the file a desk wrote",
            file=sys.stderr,
        )
        return 1
    try:
        with (
            SqliteStore(args.sqlite) as source,
            PostgresStore(args.url, schema=args.schema) as target,
        ):
            written = copy_store(source, target)
    except SupportkitError as exc:
        print(f"python -m supportkit_postgres: error: {exc}", file=sys.stderr)
        return 1
    print(f"copied {written} records from {args.sqlite} into schema {args.schema}")
    return 0
