"""Everything a SQLite desk holds, as JSON Lines; erasure of a customer; body retention.

Export writes one JSON object per line, each tagged with its ``stream``: ``event`` (global
append order), ``message`` (the message-id index), ``alert`` (SLA alerts already emitted),
``due`` (the SLA due index), ``outbox``, ``meta`` (settings versions and other documents) and
``plugin_state``. Snapshots are left out: they are a cache of the log, rebuilt on reads.
Import reads the same lines into a store (creating it if needed) in one transaction: every line
is checked first, and a malformed one names its line number with nothing written. Import is
idempotent: an event already there (same id, same body) is skipped, one that conflicts is an
error, and the other streams keep what the store already has. So export → import into an empty
store → export gives the same lines, and alerts already emitted are not emitted again after a
move.

These functions work on a :class:`~supportkit.SqliteStore`'s own tables.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from ._model import Role, Status, TicketEvent
from ._sqlite import SqliteStore
from .exceptions import ConfigurationError, EventError, StoreError

__all__ = ["STREAMS", "ErasureResult", "erase", "export_lines", "import_lines", "purge_bodies"]

#: stream -> (table, columns, JSON columns, export order). ``event`` is special-cased.
STREAMS: Mapping[str, tuple[str, tuple[str, ...], frozenset[str], str]] = {
    "message": ("messages", ("channel", "message_id", "ticket_id"), frozenset(), "1, 2"),
    "alert": ("alerts", ("ticket_id", "key"), frozenset(), "1, 2"),
    "due": ("due", ("ticket_id", "due_at"), frozenset(), "1"),
    "outbox": (
        "outbox",
        (
            "key",
            "ticket_id",
            "topic",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "created_at",
            "delivered_at",
        ),
        frozenset({"payload"}),
        "created_at, key",
    ),
    "meta": ("meta", ("key", "value"), frozenset({"value"}), "1"),
    "plugin_state": (
        "plugin_state",
        ("namespace", "key", "value", "expires_at"),
        frozenset({"value"}),
        "1, 2",
    ),
}
_TEXT_COLUMNS = frozenset(
    {"channel", "message_id", "ticket_id", "key", "topic", "status", "namespace"}
)
_OPTIONAL = frozenset({"last_error", "delivered_at", "expires_at"})


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _locked(store: SqliteStore, what: str, body: Callable[[sqlite3.Connection], Any]) -> Any:
    """Run *body* with the store's connection in one write transaction."""
    return store._write(what, body)


def export_lines(store: SqliteStore) -> Iterator[str]:
    """Every record of *store* as JSON Lines (without newlines), streams in a fixed order."""
    with store._lock:
        db = store._db
        tables = _tables(db)
        for ticket_version, body in db.execute("SELECT version, body FROM events ORDER BY seq"):
            yield _dumps({"stream": "event", "version": ticket_version, "event": json.loads(body)})
        for stream, (table, columns, json_columns, order) in STREAMS.items():
            if table not in tables:
                continue
            query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"
            for row in db.execute(query):
                record = {
                    column: json.loads(value) if column in json_columns else value
                    for column, value in zip(columns, row, strict=True)
                }
                yield _dumps({"stream": stream, **record})


@attrs.frozen
class ImportResult:
    """What an import did: per stream, lines written and lines already present."""

    written: Mapping[str, int]
    skipped: Mapping[str, int]


def _check_record(stream: str, record: Mapping[str, Any]) -> tuple[Any, ...]:
    if stream == "event":
        if set(record) != {"stream", "version", "event"}:
            raise ConfigurationError("an event line has the keys stream, version and event")
        version = record["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ConfigurationError(f"version must be a whole number >= 1, got {version!r}")
        try:
            event = TicketEvent.from_dict(record["event"])
        except (EventError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"not a valid event: {exc}") from None
        return (event.ticket_id, version, event.id, _dumps(event.to_dict()))
    spec = STREAMS.get(stream)
    if spec is None:
        raise ConfigurationError(
            f"unknown stream {stream!r} (streams: event, {', '.join(STREAMS)})"
        )
    _, columns, json_columns, _ = spec
    if set(record) != {"stream", *columns}:
        raise ConfigurationError(f"a {stream} line has the keys stream, {', '.join(columns)}")
    values = []
    for column in columns:
        value = record[column]
        if column in json_columns:
            value = _dumps(value)
        elif column in _TEXT_COLUMNS:
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"{column} must be a non-empty string, got {value!r}")
        elif not (value is None and column in _OPTIONAL) and (
            isinstance(value, bool) or not isinstance(value, int)
        ):
            raise ConfigurationError(f"{column} must be a whole number, got {value!r}")
        values.append(value)
    return tuple(values)


def _parse(lines: Iterable[str], source: str) -> list[tuple[str, tuple[Any, ...]]]:
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("stream"), str):
                raise ConfigurationError('each line is an object with a "stream"')
            records.append((record["stream"], _check_record(record["stream"], record)))
        except (json.JSONDecodeError, ConfigurationError) as exc:
            raise ConfigurationError(f"{source}:{number}: {exc}; nothing was imported") from None
    return records


def import_lines(store: SqliteStore, lines: Iterable[str], source: str = "input") -> ImportResult:
    """Import JSON Lines from :func:`export_lines` into *store*, all or nothing.

    Raises :class:`~supportkit.ConfigurationError` naming the line of a malformed record and
    :class:`~supportkit.StoreError` for an event that conflicts with the store's log (nothing is
    written in either case).
    """
    records = _parse(lines, source)
    written: dict[str, int] = {}
    skipped: dict[str, int] = {}

    def run(db: sqlite3.Connection) -> None:
        tables = _tables(db)
        for stream, values in records:
            if stream == "event":
                fresh = _import_event(db, values)
            else:
                table, columns, _, _ = STREAMS[stream]
                if table not in tables:
                    raise StoreError(f"this store has no {table} table for {stream} lines")
                marks = ", ".join("?" * len(columns))
                fresh = bool(
                    db.execute(
                        f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                        values,
                    ).rowcount
                )
            counts = written if fresh else skipped
            counts[stream] = counts.get(stream, 0) + 1

    _locked(store, f"import {source}", run)
    return ImportResult(written, skipped)


def _import_event(db: sqlite3.Connection, values: tuple[Any, ...]) -> bool:
    ticket_id, version, event_id, body = values
    found = db.execute(
        "SELECT event_id, body FROM events WHERE ticket_id = ? AND version = ?",
        (ticket_id, version),
    ).fetchone()
    if found is not None:
        if found[0] == event_id and json.loads(found[1]) == json.loads(body):
            return False
        raise StoreError(
            f"ticket {ticket_id} already has another event at version {version}: this store "
            "holds a different history; import into an empty store"
        )
    current = db.execute("SELECT version FROM streams WHERE ticket_id = ?", (ticket_id,)).fetchone()
    if version != (current[0] if current else 0) + 1:
        raise StoreError(f"ticket {ticket_id}: event version {version} does not follow the log")
    db.execute(
        "INSERT INTO events (ticket_id, version, event_id, body) VALUES (?, ?, ?, ?)", values
    )
    db.execute(
        "INSERT INTO streams (ticket_id, version) VALUES (?, ?)"
        " ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version",
        (ticket_id, version),
    )
    return True


# --- personal data ------------------------------------------------------------------------------

ERASURES_KEY = "desk.erasures"
"""The store ``meta`` key listing the erasures done (pseudonym, when, how many tickets)."""


@attrs.frozen
class ErasureResult:
    """What :meth:`~supportkit.SupportDesk.erase_customer` did: the ``pseudonym`` now standing
    for the customer, the ``tickets`` rewritten and the ``events`` and ``outbox`` rows redacted."""

    pseudonym: str
    tickets: tuple[str, ...]
    events: int
    outbox: int


def pseudonym(customer: str) -> str:
    """The stable stand-in for an erased customer id (tickets stay countable per customer)."""
    return "erased-" + hashlib.sha256(customer.encode()).hexdigest()[:16]


def _hidden(message_id: str) -> str:
    return "erased-" + hashlib.sha256(message_id.encode()).hexdigest()[:24]


def _redact(event: dict[str, Any], stand_in: str, people: set[str]) -> dict[str, Any]:
    """The event with the customer's personal data replaced; timing and kinds stay."""
    out = dict(event)
    if out.get("actor") is not None and (
        out["by"] == Role.CUSTOMER.value or out["actor"] in people
    ):
        out["actor"] = stand_in
    kind = out["kind"]
    if kind == "created":
        out["customer"] = stand_in if out.get("customer") is not None else None
        out["subject"] = ""
    elif kind == "message":
        out["body"] = ""
        if out.get("message_id") is not None:
            out["message_id"] = _hidden(out["message_id"])
    elif kind == "satisfaction_rated":
        out["comment"] = ""
    return out


def _redact_outbox(db: sqlite3.Connection, ticket_id: str, reason: str) -> int:
    """Replace the payloads of a ticket's outbox rows (they quote messages); a pending one
    is dead-lettered with *reason*, as there is nothing left to send."""
    cursor = db.execute(
        "UPDATE outbox SET payload = ?, status = CASE status WHEN 'pending' THEN 'dead'"
        " ELSE status END, last_error = CASE status WHEN 'pending' THEN ? ELSE last_error END"
        " WHERE ticket_id = ?",
        (_dumps({"redacted": reason}), reason, ticket_id),
    )
    return int(cursor.rowcount)


def erase(store: SqliteStore, customer: str, at: int) -> ErasureResult:
    """Replace *customer*'s personal data in every event, index and outbox row of their
    tickets (customer id and message authors → a pseudonym; subjects, bodies and comments →
    empty; message ids → hashes), drop their snapshots, record the erasure and rewrite the file
    so nothing of it is left in free pages (``secure_delete``, ``VACUUM``)."""
    if not isinstance(customer, str) or not customer:
        raise ConfigurationError(f"erase_customer needs a customer id, got {customer!r}")
    stand_in = pseudonym(customer)

    def run(db: sqlite3.Connection) -> ErasureResult:
        db.execute("PRAGMA secure_delete = ON")
        tickets = []
        for ticket_id, body in db.execute(
            "SELECT ticket_id, body FROM events WHERE version = 1 ORDER BY seq"
        ).fetchall():
            if json.loads(body).get("customer") == customer:
                tickets.append(ticket_id)
        events = outbox = 0
        people = {customer}
        for ticket_id in tickets:
            rows = db.execute(
                "SELECT seq, body FROM events WHERE ticket_id = ? ORDER BY version", (ticket_id,)
            ).fetchall()
            for seq, body in rows:
                event = json.loads(body)
                redacted = _redact(event, stand_in, people)
                if redacted != event:
                    db.execute("UPDATE events SET body = ? WHERE seq = ?", (_dumps(redacted), seq))
                    events += 1
            for channel, message_id in db.execute(
                "SELECT channel, message_id FROM messages WHERE ticket_id = ?", (ticket_id,)
            ).fetchall():
                db.execute(
                    "UPDATE messages SET message_id = ? WHERE channel = ? AND message_id = ?",
                    (_hidden(message_id), channel, message_id),
                )
            db.execute("DELETE FROM snapshots WHERE ticket_id = ?", (ticket_id,))
            outbox += _redact_outbox(db, ticket_id, "customer erased")
        found = db.execute("SELECT value FROM meta WHERE key = ?", (ERASURES_KEY,)).fetchone()
        erasures = json.loads(found[0]) if found else []
        erasures.append({"pseudonym": stand_in, "at": at, "tickets": len(tickets)})
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (ERASURES_KEY, _dumps(erasures)),
        )
        return ErasureResult(stand_in, tuple(tickets), events, outbox)

    result: ErasureResult = _locked(store, f"erase customer {stand_in}", run)
    _compact(store)
    return result


def _compact(store: SqliteStore) -> None:
    """Fold the WAL into the file and rebuild it, so no freed page keeps old content."""
    with store._lock:
        try:
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            store._db.execute("VACUUM")
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {str(store.path)!r}: compacting failed: {exc}") from exc


def purge_bodies(store: SqliteStore, before: int) -> int:
    """Empty the message bodies (and satisfaction comments) of tickets closed before *before*
    (epoch seconds) and redact their outbox rows; return how many events were rewritten."""

    def run(db: sqlite3.Connection) -> int:
        db.execute("PRAGMA secure_delete = ON")
        closed_at: dict[str, int] = {}
        rows = db.execute(
            'SELECT ticket_id, body FROM events WHERE body LIKE \'%"kind":"status_changed"%\''
            " ORDER BY seq"
        )
        for ticket_id, body in rows.fetchall():
            event = TicketEvent.from_dict(json.loads(body))
            if event.data["to"] == Status.CLOSED:
                closed_at[ticket_id] = event.ts
        count = 0
        for ticket_id in (t for t, when in closed_at.items() if when < before):
            for seq, body in db.execute(
                "SELECT seq, body FROM events WHERE ticket_id = ?", (ticket_id,)
            ).fetchall():
                event = json.loads(body)
                field = {"message": "body", "satisfaction_rated": "comment"}.get(event["kind"])
                if field is not None and event.get(field):
                    event[field] = ""
                    db.execute("UPDATE events SET body = ? WHERE seq = ?", (_dumps(event), seq))
                    count += 1
            db.execute("DELETE FROM snapshots WHERE ticket_id = ?", (ticket_id,))
            _redact_outbox(db, ticket_id, "message bodies purged")
        return count

    count: int = _locked(store, "purge message bodies", run)
    if count:
        _compact(store)
    return count
