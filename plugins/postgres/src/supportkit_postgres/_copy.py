"""Move a desk's data from one store into another (a SQLite desk into PostgreSQL)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from supportkit import Commit, OutboxMessage, SqliteStore, SupportDesk
from supportkit.typing import DeskStore

from ._store import PostgresStore

__all__ = ["copy_store", "main"]


def copy_store(source: DeskStore, target: DeskStore, *, due: int) -> int:
    """Copy every ticket of *source* into the empty *target*; return how many.

    Per ticket, one commit writes its whole log, the SLA alerts already emitted, its pending
    outbox messages and its customer messages' ids (the rest of the message index is not
    listed by the store protocol), with a due instant of *due* (epoch seconds): the next
    ``tick`` re-evaluates every copied ticket, emits only alerts not yet emitted and sets its
    real due instant. The desk's recorded settings are copied; plugin state is not (the
    protocol cannot list it). Tickets already in *target* are refused
    (:class:`~supportkit.ConcurrencyError`), so a copy never merges two desks.
    """
    pending: dict[str, list[OutboxMessage]] = {}
    for message in source.outbox("pending"):
        pending.setdefault(message.ticket_id, []).append(message)
    copied = 0
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
                due=due,
                outbox=tuple(pending.get(ticket_id, ())),
                alerts=tuple(sorted(source.alerts(ticket_id))),
            )
        )
        for channel, message_id in ids[1:]:
            target.record_message(channel, message_id, ticket_id)
        copied += 1
    settings = source.meta(SupportDesk.SETTINGS_KEY)
    if settings is not None:
        target.set_meta(SupportDesk.SETTINGS_KEY, settings)
    return copied


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m supportkit_postgres SQLITE_FILE URL [--schema NAME]``: copy a SQLite desk
    into PostgreSQL."""
    parser = argparse.ArgumentParser(
        prog="python -m supportkit_postgres",
        description="Copy a SQLite desk (events, alerts, pending outbox, message ids, settings) "
        "into an empty PostgreSQL schema.",
    )
    parser.add_argument("sqlite", help="the SQLite desk file, e.g. supportkit.sqlite3")
    parser.add_argument("url", help="postgresql://user@host:5432/db")
    parser.add_argument(
        "--schema", default="supportkit", help="target schema (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    with SqliteStore(args.sqlite) as source, PostgresStore(args.url, schema=args.schema) as target:
        copied = copy_store(source, target, due=int(time.time()))
    print(f"copied {copied} tickets from {args.sqlite} into schema {args.schema}")
    return 0
