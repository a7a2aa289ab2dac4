"""Moving a desk: export and import (``supportkit export | supportkit import``) on SQLite and
PostgreSQL, against the per-ticket copy they replaced.

A SQLite desk of N tickets (a customer message, an agent reply, delivered outbox rows, SLA
alerts, plugin state) is exported to JSON Lines, then imported into an empty SQLite file and,
when ``SUPPORTKIT_POSTGRES_URL`` (default: the local test server) answers, into an empty
PostgreSQL schema (``durability="full"``, ``synchronous_commit=on``). The baseline in the same
run is the former ``copy_store``: one commit per ticket through the store protocol (the log,
the first message id, the alerts and the pending outbox; it could not list the rest), into the
same kind of empty store. Every figure is wall time with the process's CPU time beside it and
the load average, since the machine is shared.

    python benchmarks/bench_transfer.py [--quick] [--json PATH] [--compare OLD.json]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from figures import add_options, finish, load_line

from supportkit import Commit, FrozenClock, InboundMessage, SqliteStore, SupportDesk
from supportkit.storekit import export_lines, import_lines
from supportkit.testing import FakeChannel
from supportkit.typing import DeskStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = {"name": "p", "targets": {"normal": {"first_reply": {"minutes": 30, "business": False}}}}


def build(path: Path, tickets: int) -> None:
    """A SQLite desk with *tickets* tickets, every stream filled."""
    clock = FrozenClock(T0)
    with SupportDesk.from_config(
        {"store": {"path": str(path)}, "policies": [POLICY]},
        clock=clock,
        plugins=[FakeChannel("mail")],  # not "email": supportkit-email may be installed
    ) as desk:
        for n in range(tickets):
            at = T0 + timedelta(seconds=n)
            message = InboundMessage(f"<m{n}@x>", "mail", f"c{n % 97}@example.com", at, body="hi")
            ticket = desk.ingest(message).ticket_id
            assert ticket is not None
            if n % 2:
                desk.reply(ticket, "on it", agent="a-1")
            if n % 10 == 0:
                desk.plugin_state("slack").put(ticket, {"thread": str(n)})
        clock.advance(timedelta(minutes=20))
        desk.tick()
        desk.deliver(limit=10 * tickets)


def per_ticket_copy(source: DeskStore, target: DeskStore) -> int:
    """The former copy_store: one commit per ticket (what the protocol could list then)."""
    pending: dict[str, list[Any]] = {}
    for message in source.outbox("pending"):
        pending.setdefault(message.ticket_id, []).append(message)
    for ticket_id in source.ticket_ids():
        events = source.read(ticket_id)
        ids = [
            (str(e.data["channel"]), str(e.data["message_id"]))
            for e in events
            if e.kind == "message" and e.data.get("message_id") and e.data.get("channel")
        ]
        target.commit(
            Commit(
                ticket_id,
                tuple(events),
                0,
                message=ids[0] if ids else None,
                outbox=tuple(pending.get(ticket_id, ())),
                alerts=tuple(sorted(source.alerts(ticket_id))),
            )
        )
        for channel, message_id in ids[1:]:
            target.record_message(channel, message_id, ticket_id)
    return len(source.ticket_ids())


def timed(work: Callable[[], Any]) -> tuple[float, float]:
    """Wall and CPU seconds of *work*."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def postgres(url: str, name: str) -> tuple[DeskStore, Callable[[], None]] | None:
    """A fresh PostgreSQL schema's store and a function dropping it, or None without a server."""
    try:
        import psycopg
        from supportkit_postgres import PostgresStore
    except ImportError:
        return None
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return None
    schema = f"bench_transfer_{os.getpid()}_{name}"
    store = PostgresStore(url, schema=schema, durability="full")

    def drop() -> None:
        store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # a fixed-form name

    return store, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(parser, "1,000 tickets instead of 10,000")
    args = parser.parse_args()
    tickets = 1_000 if args.quick else 10_000
    url = os.environ.get("SUPPORTKIT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        source_path = Path(folder) / "source.sqlite3"
        build(source_path, tickets)
        with SqliteStore(source_path) as source:
            lines: list[str] = []
            wall, cpu = timed(lambda: lines.extend(export_lines(source)))
            print(f"{tickets:,} tickets, {len(lines):,} lines; {load_line()}")
            print(f"export from SQLite      {len(lines) / wall:>10,.0f} lines/s  cpu {cpu:.2f} s")
            figures["transfer_export_sqlite_lines_per_s"] = len(lines) / wall
            targets: list[tuple[str, Callable[[], tuple[DeskStore, Callable[[], None]] | None]]]
            targets = [
                ("sqlite", lambda n=0: sqlite_target(folder, n)),
                ("postgres", lambda n=0: postgres(url, f"{n}")),
            ]
            for kind, make in targets:
                for method, run in (
                    ("import", lambda store: import_lines(store, lines, "bench")),
                    ("per_ticket", lambda store: per_ticket_copy(source, store)),
                ):
                    made = make(len(figures))
                    if made is None:
                        print(f"{kind}: no server at {url}; skipped")
                        break
                    store, drop = made
                    try:
                        wall, cpu = timed(lambda: run(store))  # noqa: B023 - called at once
                        if kind == "postgres" and method == "import":
                            wall_out, _ = timed(lambda: list(export_lines(store)))  # noqa: B023
                            figures["transfer_export_postgres_lines_per_s"] = len(lines) / wall_out
                    finally:
                        drop()
                    name = f"transfer_{method}_{kind}_tickets_per_s"
                    figures[name] = tickets / wall
                    print(
                        f"{method:<10} into {kind:<8} {tickets / wall:>10,.0f} tickets/s  "
                        f"wall {wall:.2f} s  cpu {cpu:.2f} s"
                    )
    print(load_line())
    finish(args, figures)


def sqlite_target(folder: str, n: int) -> tuple[DeskStore, Callable[[], None]]:
    """A fresh SQLite file's store and a function closing it."""
    store = SqliteStore(Path(folder) / f"target-{n}.sqlite3")
    return store, store.close


if __name__ == "__main__":
    main()
