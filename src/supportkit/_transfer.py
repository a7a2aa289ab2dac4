"""Everything a desk's store holds, as JSON Lines; erasure of a customer; body retention.

Export writes one JSON object per line, each tagged with its ``stream``: ``event`` (global
append order, with the ticket version), ``message`` (the message-id index, inbound and
outbound ids), ``alert`` (SLA alerts already emitted), ``due`` (the SLA due index),
``outbox`` (pending, delivered and dead messages), ``meta`` (settings versions, the erasure
record and other documents), ``plugin_state`` (live entries), ``article`` (the knowledge
base's log, append order) and ``session`` (the self-service session stream, append order,
each line its place ``seq`` from 1 and the :class:`~supportkit.SessionEvent` dict). Snapshots
are left out: they are a cache of the log, rebuilt on reads.

Both directions go through the listing and :meth:`~supportkit.typing.DeskStore.restore`
methods of :class:`~supportkit.typing.DeskStore`, so they work on every store (memory, SQLite,
PostgreSQL) and a desk moves between stores by export → import. Import checks every line
first and every event against the target's log: a malformed line names its line number and
an event that conflicts with the target's history is a :class:`~supportkit.StoreError`, with
nothing written in either case. The records are then written by one ``restore`` transaction
(articles follow, one append per article, then the new session events in one append). Import
is idempotent: an event already there (same version, same body) is skipped and the other
streams keep what the target already has, so export → import into an empty store → export
gives the same lines, and alerts already emitted are not emitted again after a move.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from . import _settings
from ._clock import SystemClock
from ._commit import OUTBOX_STATUSES, OutboxMessage
from ._knowledge import ArticleEvent, check_article_append
from ._metrics import SessionEvent
from ._model import Role, Status, TicketEvent, _encodable
from ._time import to_epoch
from .exceptions import ConfigurationError, EventError, StoreError
from .typing import DeskStore

__all__ = [
    "ERASURES_KEY",
    "STREAMS",
    "ErasureResult",
    "ImportResult",
    "erase",
    "export_lines",
    "import_lines",
    "purge_bodies",
]

#: The streams of an export, in the order they are written, with the keys of their lines.
STREAMS: Mapping[str, tuple[str, ...]] = {
    "event": ("version", "event"),
    "message": ("channel", "message_id", "ticket_id"),
    "alert": ("ticket_id", "key"),
    "due": ("ticket_id", "due_at"),
    "outbox": (
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
    "meta": ("key", "value"),
    "plugin_state": ("namespace", "key", "value", "expires_at"),
    "article": ("version", "event"),
    "session": ("seq", "event"),
}
_FOREVER = 2**62  # "every due entry": later than any instant a desk writes


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _line(stream: str, *values: Any) -> str:
    return _dumps({"stream": stream, **dict(zip(STREAMS[stream], values, strict=True))})


def export_lines(store: DeskStore, *, now: int | None = None) -> Iterator[str]:
    """Every record of *store* as JSON Lines (without newlines), streams in a fixed order.

    Plugin state entries expired at *now* (epoch seconds; default: the system clock) are
    left out.
    """
    at = to_epoch(SystemClock().now()) if now is None else now
    versions: dict[str, int] = {}
    for event in store.read_all():
        versions[event.ticket_id] = version = versions.get(event.ticket_id, 0) + 1
        yield _line("event", version, event.to_dict())
    for channel, message_id, ticket_id in store.message_index():
        yield _line("message", channel, message_id, ticket_id)
    for ticket_id, key in store.alert_index():
        yield _line("alert", ticket_id, key)
    for ticket_id, due_at in sorted(store.due(_FOREVER, limit=_FOREVER)):
        yield _line("due", ticket_id, due_at)
    for m in sorted(store.outbox(), key=lambda m: (m.created_at, m.key)):
        yield _line(
            "outbox",
            m.key,
            m.ticket_id,
            m.topic,
            dict(m.payload),
            m.status,
            m.attempts,
            m.due_at(),
            m.last_error,
            m.created_at,
            m.delivered_at,
        )
    for key, value in store.meta_items():
        yield _line("meta", key, value)
    for namespace, key, value, expires_at in store.state_items(now=at):
        yield _line("plugin_state", namespace, key, value, expires_at)
    articles: dict[str, int] = {}
    for article in store.article_events():
        articles[article.article_id] = version = articles.get(article.article_id, 0) + 1
        yield _line("article", version, article.to_dict())
    for seq, session in enumerate(store.session_events(), 1):
        yield _line("session", seq, session.to_dict())


# --- import -------------------------------------------------------------------------------------


@attrs.frozen
class ImportResult:
    """What an import did: per stream, lines written and lines already present."""

    written: Mapping[str, int]
    skipped: Mapping[str, int]


def _text(record: Mapping[str, Any], *names: str) -> tuple[str, ...]:
    for name in names:
        value = record[name]
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
    return tuple(record[name] for name in names)


def _whole(record: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    value = record[name]
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _FOREVER:
        raise ConfigurationError(f"{name} must be a whole number >= 0, got {value!r}")
    return value


def _version(record: Mapping[str, Any]) -> int:
    version = _whole(record, "version")
    if version < 1:
        raise ConfigurationError(f"version must be a whole number >= 1, got {version!r}")
    return int(version)


def _no_constant(name: str) -> Any:
    """Lines are strict JSON: ``NaN`` and ``Infinity`` would not read back from a store."""
    raise ConfigurationError(f"{name} is not JSON (a store could not keep it)")


def _outbox(record: Mapping[str, Any]) -> OutboxMessage:
    key, ticket_id, topic, status = _text(record, "key", "ticket_id", "topic", "status")
    if status not in OUTBOX_STATUSES:
        raise ConfigurationError(f"status must be one of {OUTBOX_STATUSES}, got {status!r}")
    payload = record["payload"]
    if not isinstance(payload, dict):
        raise ConfigurationError(f"payload must be an object, got {payload!r}")
    error = record["last_error"]
    if error is not None and not isinstance(error, str):
        raise ConfigurationError(f"last_error must be a string or null, got {error!r}")
    return OutboxMessage(
        key,
        topic,
        ticket_id,
        payload,
        _whole(record, "created_at"),
        status,
        _whole(record, "attempts"),
        _whole(record, "next_attempt_at"),
        error,
        _whole(record, "delivered_at", optional=True),
    )


def _value(stream: str, record: Mapping[str, Any]) -> Any:
    """The typed record of one line (raises ConfigurationError saying what is wrong)."""
    if stream == "event":
        try:
            return (_version(record), TicketEvent.from_dict(record["event"]))
        except (EventError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"not a valid event: {exc}") from None
    if stream == "article":
        try:
            return (_version(record), ArticleEvent.from_dict(record["event"]))
        except (EventError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"not a valid article event: {exc}") from None
    if stream == "session":
        seq = _whole(record, "seq")
        if seq < 1:
            raise ConfigurationError(f"seq must be a whole number >= 1, got {seq!r}")
        try:
            return (seq, SessionEvent.from_dict(record["event"]))
        except EventError as exc:
            raise ConfigurationError(f"not a valid session event: {exc}") from None
    if stream == "message":
        return _text(record, "channel", "message_id", "ticket_id")
    if stream == "alert":
        return _text(record, "ticket_id", "key")
    if stream == "due":
        return (*_text(record, "ticket_id"), _whole(record, "due_at"))
    if stream == "outbox":
        return _outbox(record)
    if stream == "meta":
        (key,) = _text(record, "key")
        _settings.check_meta(key, record["value"])
        return (key, record["value"])
    return (
        *_text(record, "namespace", "key"),
        record["value"],
        _whole(record, "expires_at", optional=True),
    )


def _parse(lines: Iterable[str], source: str) -> list[tuple[str, Any]]:
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_no_constant)
            if not isinstance(record, dict) or not isinstance(record.get("stream"), str):
                raise ConfigurationError('each line is an object with a "stream"')
            stream = record["stream"]
            keys = STREAMS.get(stream)
            if keys is None:
                raise ConfigurationError(
                    f"unknown stream {stream!r} (streams: {', '.join(STREAMS)})"
                )
            if set(record) != {"stream", *keys}:
                raise ConfigurationError(f"a {stream} line has the keys stream, {', '.join(keys)}")
            records.append((stream, _value(stream, record)))
        except (json.JSONDecodeError, ConfigurationError) as exc:
            raise ConfigurationError(f"{source}:{number}: {exc}; nothing was imported") from None
    return records


def _new_events(
    store: DeskStore, records: list[tuple[int, TicketEvent]]
) -> tuple[list[tuple[int, TicketEvent]], int]:
    """The events of *records* the store does not have yet (checked to follow its logs) and
    how many it has already; a conflict is a StoreError."""
    known = set(store.ticket_ids())
    logs: dict[str, list[TicketEvent]] = {}
    fresh = []
    for version, event in records:
        ticket_id = event.ticket_id
        if ticket_id not in logs:
            logs[ticket_id] = store.read(ticket_id) if ticket_id in known else []
        log = logs[ticket_id]
        if version <= len(log):
            if log[version - 1] != event:
                raise StoreError(
                    f"ticket {ticket_id} already has another event at version {version}: this "
                    "store holds a different history; import into an empty store"
                )
            continue
        if version != len(log) + 1:
            raise StoreError(f"ticket {ticket_id}: event version {version} does not follow the log")
        log.append(event)
        fresh.append((version, event))
    return fresh, len(records) - len(fresh)


def _new_articles(
    store: DeskStore, records: list[tuple[int, ArticleEvent]]
) -> list[tuple[str, int, list[ArticleEvent]]]:
    """The article events *store* does not have yet, as appends ``(article, version before,
    events)`` in order, each checked to fold onto the article (nothing is written here)."""
    logs: dict[str, list[ArticleEvent]] = {}
    for event in store.article_events():
        logs.setdefault(event.article_id, []).append(event)
    appends: list[tuple[str, int, list[ArticleEvent]]] = []
    for version, event in records:
        log = logs.setdefault(event.article_id, [])
        if version <= len(log):
            if log[version - 1] != event:
                raise StoreError(
                    f"article {event.article_id} already has another event at version "
                    f"{version}; import into an empty store"
                )
            continue
        if version != len(log) + 1:
            raise StoreError(
                f"article {event.article_id}: event version {version} does not follow the log"
            )
        check_article_append(event.article_id, log, [event], len(log))
        log.append(event)
        last = appends[-1] if appends else None
        if last is not None and last[0] == event.article_id:
            last[2].append(event)
        else:
            appends.append((event.article_id, version - 1, [event]))
    return appends


def _new_sessions(store: DeskStore, records: list[tuple[int, SessionEvent]]) -> list[SessionEvent]:
    """The session events of *records* the store does not have yet (a line's ``seq`` is its
    place in the stream); one that differs from the store's at its place, or leaves a gap, is
    a StoreError."""
    stream = [event.to_dict() for event in store.session_events()]
    fresh = []
    for seq, event in records:
        if seq <= len(stream):
            if stream[seq - 1] != event.to_dict():
                raise StoreError(
                    f"session event {seq} differs from the store's; import into an empty store"
                )
            continue
        if seq != len(stream) + 1:
            raise StoreError(f"session event {seq} does not follow the session stream")
        stream.append(event.to_dict())
        fresh.append(event)
    return fresh


def import_lines(
    store: DeskStore, lines: Iterable[str], source: str = "input", *, now: int | None = None
) -> ImportResult:
    """Import JSON Lines from :func:`export_lines` into *store*, all or nothing.

    Raises :class:`~supportkit.ConfigurationError` naming the line of a malformed record and
    :class:`~supportkit.StoreError` for an event that conflicts with the store's log (nothing
    is written in either case). Plugin state is compared at *now* (default: the system clock).
    """
    records = _parse(lines, source)
    at = to_epoch(SystemClock().now()) if now is None else now
    by_stream: dict[str, list[Any]] = {stream: [] for stream in STREAMS}
    for stream, value in records:
        by_stream[stream].append(value)
    try:
        events, events_there = _new_events(store, by_stream["event"])
        articles = _new_articles(store, by_stream["article"])
        sessions = _new_sessions(store, by_stream["session"])
    except (EventError, ConfigurationError) as exc:
        raise StoreError(f"{source}: {exc}; nothing was imported") from None
    have: dict[str, Callable[[Any], Any]] = {
        "message": lambda v: v[:2],
        "alert": lambda v: v,
        "due": lambda v: v[0],
        "outbox": lambda m: m.key,
        "meta": lambda v: v[0],
        "plugin_state": lambda v: v[:2],
    }
    present: dict[str, set[Any]] = {
        "message": {row[:2] for row in store.message_index()},
        "alert": set(store.alert_index()),
        "due": {ticket for ticket, _ in store.due(_FOREVER, limit=_FOREVER)},
        "outbox": {m.key for m in store.outbox()},
        "meta": {key for key, _ in store.meta_items()},
        "plugin_state": {row[:2] for row in store.state_items(now=at)},
    }
    fresh: dict[str, list[Any]] = {}
    for stream, key in have.items():
        seen = present[stream]
        fresh[stream] = []
        for value in by_stream[stream]:
            if key(value) not in seen:
                seen.add(key(value))
                fresh[stream].append(value)
    store.restore(
        events=events,
        messages=fresh["message"],
        alerts=fresh["alert"],
        due=fresh["due"],
        outbox=fresh["outbox"],
        meta=fresh["meta"],
        state=fresh["plugin_state"],
    )
    for article_id, version, batch in articles:
        store.append_article(article_id, batch, expected_version=version)
    store.append_sessions(sessions)
    written = {s: len(v) for s, v in fresh.items() if v}
    written.update(
        event=len(events), article=sum(len(b) for _, _, b in articles), session=len(sessions)
    )
    skipped = {s: len(by_stream[s]) - len(fresh[s]) for s in have}
    skipped.update(
        event=events_there,
        article=len(by_stream["article"]) - written["article"],
        session=len(by_stream["session"]) - len(sessions),
    )
    return ImportResult(
        {s: n for s, n in written.items() if n}, {s: n for s, n in skipped.items() if n}
    )


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


def _rewritten(
    store: DeskStore, tickets: Iterable[str], change: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[tuple[int, TicketEvent]]:
    """The ``(version, event)`` pairs of *tickets* that *change* alters."""
    found = []
    for ticket_id in tickets:
        for version, event in enumerate(store.read(ticket_id), 1):
            before = event.to_dict()
            after = change(before)
            if after != before:
                found.append((version, TicketEvent.from_dict(after)))
    return found


def erase(store: DeskStore, customer: str, at: int) -> ErasureResult:
    """Replace *customer*'s personal data in every event, index and outbox row of their
    tickets (customer id and message authors → a pseudonym; subjects, bodies and comments →
    empty; message ids → hashes) and of their self-service sessions (the pseudonym, search
    queries emptied), drop their snapshots and record the erasure; the store then
    leaves nothing of the old values where its engine can reach it
    (:meth:`~supportkit.typing.DeskStore.redact`)."""
    if not isinstance(customer, str) or not customer:
        raise ConfigurationError(f"erase_customer needs a customer id, got {customer!r}")
    try:
        _encodable(customer)  # no store holds such an id, and its pseudonym hashes the bytes
    except ValueError as exc:
        raise ConfigurationError(
            f"erase_customer: the customer id {customer!r:.80} {exc}"
        ) from None
    stand_in = pseudonym(customer)
    tickets: list[str] = []
    seen: set[str] = set()
    for event in store.read_all():
        if event.ticket_id not in seen:
            seen.add(event.ticket_id)
            if event.kind == "created" and event.data.get("customer") == customer:
                tickets.append(event.ticket_id)
    chosen = set(tickets)
    events = _rewritten(store, tickets, lambda e: _redact(e, stand_in, {customer}))
    message_ids = [(c, m, _hidden(m)) for c, m, t in store.message_index() if t in chosen]
    reason = "customer erased"
    store.redact_sessions(customer, stand_in)  # before redact, whose scrub then covers it
    outbox = store.redact(
        events,
        tickets=tickets,
        message_ids=message_ids,
        payload={"redacted": reason},
        reason=reason,
    )
    entry = {"pseudonym": stand_in, "at": at, "tickets": len(tickets)}
    while True:  # compare-and-set, so concurrent erasures all stay recorded
        found = store.meta(ERASURES_KEY)
        if store.set_meta_if(ERASURES_KEY, [*(found or []), entry], expected=found):
            break
    return ErasureResult(stand_in, tuple(tickets), len(events), outbox)


def purge_bodies(store: DeskStore, before: int) -> int:
    """Empty the message bodies (and satisfaction comments) of tickets closed before *before*
    (epoch seconds) and redact their outbox rows; return how many events were rewritten."""
    closed_at: dict[str, int] = {}
    for event in store.read_all():
        if event.kind == "status_changed" and event.data["to"] == Status.CLOSED:
            closed_at[event.ticket_id] = event.ts
    tickets = [t for t, when in closed_at.items() if when < before]

    def purge(event: dict[str, Any]) -> dict[str, Any]:
        field = {"message": "body", "satisfaction_rated": "comment"}.get(event["kind"])
        return {**event, field: ""} if field is not None and event.get(field) else event

    events = _rewritten(store, tickets, purge)
    if events:
        reason = "message bodies purged"
        store.redact(
            events, tickets=tickets, payload={"redacted": reason}, reason=reason, scrub=False
        )
    return len(events)
