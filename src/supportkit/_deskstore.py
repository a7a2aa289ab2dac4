"""Helpers for :class:`~supportkit.typing.DeskStore` implementations, and the in-memory one.

Every desk operation is one :class:`Commit`: the ticket's new events, the channel message id it
consumed (idempotency), the ticket snapshot, the ticket's next SLA due instant, the outbox
messages to deliver and the SLA alert keys it emitted, written atomically or not at all.
A :class:`DeskStore` does that in one transaction (``SqliteStore``, the Postgres plugin); any
plain :class:`~supportkit.typing.EventStore` (``InMemoryStore``, a plugin's store) gets the
same capabilities from :class:`MemorySidecar`, which keeps the extras in process memory, so the
desk has one code path.

A conflict inside a commit (a stale version, a message id or an alert key already recorded) is a
:class:`~supportkit.ConcurrencyError`: another writer got there first; re-read and retry.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import attrs

from ._commit import OUTBOX_STATUSES, Commit, OutboxMessage
from ._knowledge import (
    ArticleEvent,
    ArticleHit,
    MemoryArticleIndex,
    check_article_append,
    check_search,
)
from ._lifecycle import parse_status
from ._metrics import SessionEvent
from ._model import InboundMessage, Priority, Role, TicketEvent
from ._selfservice import check_sessions, redacted_session, since_epoch
from ._store import check_batch, check_version
from ._ticket import Satisfaction, Ticket
from ._time import from_epoch, to_epoch
from .exceptions import ConcurrencyError, StoreError
from .typing import DeskStore, EventStore

__all__ = [
    "OUTBOX_STATUSES",
    "STATE_PRUNE_BATCH",
    "Commit",
    "DeskStore",
    "MemorySidecar",
    "OutboxMessage",
    "PendingCommits",
    "duplicate_message",
    "event_runs",
    "ticket_from_dict",
    "ticket_to_dict",
]

#: How many expired plugin state entries a store may drop on each state write (amortised
#: cleanup: expired entries never pile up faster than they are written).
STATE_PRUNE_BATCH = 16


def duplicate_message(commit: Commit, ticket_id: str, actual: int) -> ConcurrencyError:
    """The error for a commit whose channel message was already ingested."""
    channel, message_id = commit.message or ("", "")
    return ConcurrencyError(
        f"message {message_id!r} on channel {channel!r} was already ingested into ticket "
        f"{ticket_id}; nothing was written",
        ticket_id=commit.ticket_id,
        expected=commit.expected_version,
        actual=actual,
    )


def alert_conflict(commit: Commit, actual: int) -> ConcurrencyError:
    """The error for a commit that re-emits an alert someone else already recorded."""
    return ConcurrencyError(
        f"ticket {commit.ticket_id}: an SLA alert in {list(commit.alerts)} was already "
        "emitted by another writer; nothing was written",
        ticket_id=commit.ticket_id,
        expected=commit.expected_version,
        actual=actual,
    )


def event_runs(
    events: Sequence[tuple[int, TicketEvent]],
) -> list[tuple[str, int, list[TicketEvent]]]:
    """``(version, event)`` pairs in append order as runs of one ticket's consecutive events:
    ``(ticket_id, version before the run, events)``; a version that does not follow the one
    before it in its run starts a new run (the store's version check then refuses it)."""
    runs: list[tuple[str, int, list[TicketEvent]]] = []
    for version, event in events:
        last = runs[-1] if runs else None
        follows = last is not None and last[1] + len(last[2]) + 1 == version
        if last is not None and follows and last[0] == event.ticket_id:
            last[2].append(event)
        else:
            runs.append((event.ticket_id, version - 1, [event]))
    return runs


# --- commits held back in a batch ---------------------------------------------------------------


class PendingCommits:
    """The commits of an open ``batch()`` that a store keeps in memory and writes in bulk (a
    statement per table for all of them) when the batch ends, or earlier when something is
    about to read what they touch.

    The store fills :attr:`versions` (and :attr:`owners`) with what nobody else can change
    before the batch ends: SQLite holds its write lock for the whole batch, so every version
    and message id it reads qualifies (a commit whose ticket and message the batch has seen
    needs no query at all); PostgreSQL locks a ticket's stream row on the batch's first
    commit to it and inserts message ids at once. :meth:`add` then checks a commit against
    them and holds its rows. Commits carrying alert keys are not held (the stores write them
    directly, after writing what is held).
    """

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.owners: dict[tuple[str, str], str | None] = {}
        self.events: list[tuple[str, int, TicketEvent]] = []
        self.streams: dict[str, int] = {}  # tickets written, in first-write order: version
        self.messages: list[tuple[str, str, str]] = []
        self.snapshots: dict[str, Ticket] = {}
        self.due: dict[str, int | None] = {}  # None: remove the entry
        self.outbox: dict[str, OutboxMessage] = {}  # the first row of each key

    def __bool__(self) -> bool:
        """Whether any rows wait to be written."""
        return bool(self.streams or self.messages or self.snapshots or self.due or self.outbox)

    def written(self) -> None:
        """The held rows were written: drop them (what the batch learned stays true)."""
        self.events, self.messages = [], []
        self.streams, self.snapshots, self.due, self.outbox = {}, {}, {}, {}

    def forget(self) -> None:
        """Something else wrote in the batch: versions and message ids must be read again."""
        self.versions.clear()
        self.owners.clear()

    def add(self, commit: Commit) -> int:
        """Check *commit* against what the batch knows (the caller put its ticket's version
        and its message's owner in :attr:`versions` and :attr:`owners`) and hold its rows;
        return the ticket's new version. A refused commit raises and holds nothing."""
        ticket_id = commit.ticket_id
        actual = self.versions[ticket_id]
        if commit.message is not None:
            owner = self.owners[commit.message]
            if owner is not None:
                raise duplicate_message(commit, owner, actual)
        check_version(ticket_id, commit.expected_version, actual)
        version = actual + len(commit.events)
        if commit.events:
            self.events.extend(
                (ticket_id, n, event) for n, event in enumerate(commit.events, actual + 1)
            )
            self.streams[ticket_id] = self.versions[ticket_id] = version
        if commit.message is not None:
            self.messages.append((*commit.message, ticket_id))
            self.owners[commit.message] = ticket_id
        if commit.snapshot is not None:
            self.snapshots[ticket_id] = commit.snapshot
        if not commit.keep_due:
            self.due[ticket_id] = commit.due
        for message in commit.outbox:
            self.outbox.setdefault(message.key, message)
        return version


# --- snapshots ----------------------------------------------------------------------------------


def ticket_to_dict(ticket: Ticket) -> dict[str, Any]:
    """A JSON-compatible dict of a snapshot (instants as epoch seconds)."""
    result: dict[str, Any] = {}
    for field in attrs.fields(Ticket):
        value = getattr(ticket, field.name)
        if isinstance(value, datetime):
            value = to_epoch(value)
        elif isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, Satisfaction):
            value = attrs.asdict(value)
        result[field.name] = value
    return result


def ticket_from_dict(raw: Mapping[str, Any]) -> Ticket:
    """The inverse of :func:`ticket_to_dict`; a malformed snapshot is a :class:`StoreError`."""
    try:
        values = dict(raw)
        for name, value in values.items():
            if name.endswith("_at") and value is not None:
                values[name] = from_epoch(value)
        values["status"] = parse_status(values["status"], values["id"])
        values["priority"] = Priority(values["priority"])
        values["created_by"] = Role(values["created_by"])
        values["tags"] = frozenset(values["tags"])
        if values["satisfaction"] is not None:
            values["satisfaction"] = Satisfaction(**values["satisfaction"])
        return Ticket(**values)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(
            f"stored ticket snapshot {raw.get('id')!r} is malformed ({exc}); delete the "
            "snapshot row and the desk rebuilds it from the event log"
        ) from exc


# --- the in-memory sidecar ------------------------------------------------------------------------


_SHAPES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _shape(names: tuple[str, ...]) -> tuple[str, ...]:
    """One shared tuple per payload shape (the key names), so rows do not each hold one."""
    return _SHAPES.setdefault(names, names)


class MemorySidecar:
    """Gives any :class:`~supportkit.typing.EventStore` the :class:`DeskStore` extras.

    The extras (message index, snapshots, due index, outbox, alert keys, meta documents,
    plugin state) live in this object, under one lock with the append, so they are exactly as
    durable as process memory:
    right for :class:`~supportkit.InMemoryStore` in tests and simulations. Use ``SqliteStore``
    when anything must survive a restart.
    """

    def __init__(self, events: EventStore) -> None:
        self.events = events
        self._lock = threading.RLock()
        self._messages: dict[tuple[str, str], str] = {}
        self._snapshots: dict[str, Ticket] = {}
        self._due: dict[str, int] = {}
        self._alerts: dict[str, set[str]] = {}
        # Outbox rows are kept as plain tuples (see _put).
        self._outbox: dict[str, tuple[Any, ...]] = {}
        self._pending: dict[str, None] = {}  # keys of pending messages (claims scan only these)
        self._claims: dict[str, int] = {}  # due entries claimed by a ticker, until when
        self._meta: dict[str, str] = {}
        # Plugin state: (namespace, key) -> (value as JSON text, expires_at); a heap of expiry
        # instants finds expired entries without a scan.
        self._state: dict[tuple[str, str], tuple[str, int | None]] = {}
        self._expiry: list[tuple[int, str, str]] = []
        # The knowledge base: every article's log, all events in append order, the index.
        self._articles: dict[str, list[ArticleEvent]] = {}
        self._article_log: list[ArticleEvent] = []
        self._article_index = MemoryArticleIndex()
        self._sessions: list[SessionEvent] = []  # the self-service session stream

    # EventStore, delegated
    def append(
        self, ticket_id: str, events: Sequence[TicketEvent], *, expected_version: int
    ) -> int:
        """Append to the wrapped store; see :class:`~supportkit.typing.EventStore`."""
        with self._lock:
            return self.events.append(ticket_id, events, expected_version=expected_version)

    def read(self, ticket_id: str, *, after: int = 0) -> list[TicketEvent]:
        """Read from the wrapped store."""
        return self.events.read(ticket_id, after=after)

    def version(self, ticket_id: str) -> int:
        """The wrapped store's version of the ticket."""
        return self.events.version(ticket_id)

    def ticket_ids(self) -> list[str]:
        """Every ticket id of the wrapped store."""
        return self.events.ticket_ids()

    def read_all(self) -> Iterator[TicketEvent]:
        """Every event of the wrapped store."""
        return self.events.read_all()

    # DeskStore
    def commit(self, commit: Commit) -> int:
        """Write *commit* atomically (under the sidecar's lock); see :class:`DeskStore`."""
        check_batch(commit.ticket_id, commit.events)
        with self._lock:
            actual = self.events.version(commit.ticket_id)
            if commit.message is not None and commit.message in self._messages:
                raise duplicate_message(commit, self._messages[commit.message], actual)
            check_version(commit.ticket_id, commit.expected_version, actual)
            if commit.alerts and self._alerts.get(commit.ticket_id, set()).intersection(
                commit.alerts
            ):
                raise alert_conflict(commit, actual)
            version = self.events.append(
                commit.ticket_id, commit.events, expected_version=commit.expected_version
            )
            if commit.message is not None:
                self._messages[commit.message] = commit.ticket_id
            if commit.snapshot is not None:
                self._snapshots[commit.ticket_id] = commit.snapshot
            if not commit.keep_due:
                self._claims.pop(commit.ticket_id, None)
                if commit.due is None:
                    self._due.pop(commit.ticket_id, None)
                else:
                    self._due[commit.ticket_id] = commit.due
            for message in commit.outbox:
                if message.key not in self._outbox:
                    self._put(message)
                    self._pending[message.key] = None
            if commit.alerts:
                self._alerts.setdefault(commit.ticket_id, set()).update(commit.alerts)
            return version

    @contextmanager
    def batch(self, messages: Sequence[InboundMessage] = ()) -> Iterator[None]:
        """Hold the sidecar's lock for the block (see :meth:`DeskStore.batch`), so no other
        thread's write interleaves with it. Process memory has nothing to make durable and no
        way to take commits back: other threads may read the block's writes before it ends,
        and a block that raises keeps the commits that succeeded (each one whole). Its reads
        are local: *messages* (a read-ahead hint) is not needed."""
        with self._lock:
            yield

    def message_ticket(self, channel: str, message_id: str) -> str | None:
        """See :meth:`DeskStore.message_ticket`."""
        return self._messages.get((channel, message_id))

    def record_message(self, channel: str, message_id: str, ticket_id: str) -> None:
        """See :meth:`DeskStore.record_message`."""
        with self._lock:
            self._messages.setdefault((channel, message_id), ticket_id)

    def snapshot(self, ticket_id: str) -> Ticket | None:
        """See :meth:`DeskStore.snapshot`."""
        return self._snapshots.get(ticket_id)

    def due(self, until: int, *, limit: int = 500) -> list[tuple[str, int]]:
        """See :meth:`DeskStore.due` (a sort of the due entries: fine at in-memory sizes)."""
        with self._lock:
            found = [(due, ticket) for ticket, due in self._due.items() if due <= until]
        found.sort()
        return [(ticket, due) for due, ticket in found[:limit]]

    def claim_due(self, until: int, *, now: int, limit: int, lease: int) -> list[tuple[str, int]]:
        """See :meth:`DeskStore.claim_due`."""
        with self._lock:
            found = sorted(
                (due, ticket)
                for ticket, due in self._due.items()
                if due <= until and self._claims.get(ticket, now) <= now
            )[:limit]
            for _, ticket in found:
                self._claims[ticket] = now + lease
        return [(ticket, due) for due, ticket in found]

    def release_due(self, ticket_ids: Sequence[str]) -> None:
        """See :meth:`DeskStore.release_due`."""
        with self._lock:
            for ticket in ticket_ids:
                self._claims.pop(ticket, None)

    def alerts(self, ticket_id: str) -> frozenset[str]:
        """See :meth:`DeskStore.alerts`."""
        with self._lock:
            return frozenset(self._alerts.get(ticket_id, ()))

    def claim_outbox(self, now: int, *, limit: int, lease: int) -> list[OutboxMessage]:
        """See :meth:`DeskStore.claim_outbox`."""
        with self._lock:
            due = sorted(
                (m for m in map(self._get, self._pending) if m.due_at() <= now),
                key=lambda m: (m.due_at(), m.created_at),
            )[:limit]
            for message in due:
                self._put(attrs.evolve(message, next_attempt_at=now + lease))
            return due

    def settle_outbox(
        self,
        at: int,
        delivered: Sequence[str] = (),
        failed: Sequence[tuple[str, str, int | None]] = (),
        deferred: Sequence[tuple[str, str, int]] = (),
    ) -> None:
        """See :meth:`DeskStore.settle_outbox`."""
        with self._lock:
            for key in delivered:
                message = self._get(key)
                self._put(
                    attrs.evolve(
                        message, status="delivered", attempts=message.attempts + 1, delivered_at=at
                    )
                )
                self._pending.pop(key, None)
            for key, error, retry_at in failed:
                message = self._get(key)
                self._put(
                    attrs.evolve(
                        message,
                        status="pending" if retry_at is not None else "dead",
                        attempts=message.attempts + 1,
                        next_attempt_at=retry_at,
                        last_error=error,
                    )
                )
                if retry_at is None:
                    self._pending.pop(key, None)
            for key, error, retry_at in deferred:
                self._put(attrs.evolve(self._get(key), next_attempt_at=retry_at, last_error=error))

    def outbox(self, status: str | None = None) -> list[OutboxMessage]:
        """See :meth:`DeskStore.outbox`."""
        with self._lock:
            messages = map(self._get, self._outbox)
            return [m for m in messages if status is None or m.status == status]

    def prune_outbox(self, before: int) -> int:
        """See :meth:`DeskStore.prune_outbox`."""
        with self._lock:
            old = [
                key
                for key in self._outbox
                if (message := self._get(key)).status == "delivered"
                and (message.delivered_at or 0) < before
            ]
            for key in old:
                del self._outbox[key]
            return len(old)

    def meta(self, key: str) -> Any:
        """See :meth:`DeskStore.meta`."""
        with self._lock:
            text = self._meta.get(key)
        return None if text is None else json.loads(text)

    def set_meta(self, key: str, value: Any) -> None:
        """See :meth:`DeskStore.set_meta`."""
        text = json.dumps(value)
        with self._lock:
            self._meta[key] = text

    def state_get(self, namespace: str, key: str, *, now: int) -> Any:
        """See :meth:`DeskStore.state_get`."""
        with self._lock:
            entry = self._state.get((namespace, key))
        if entry is None or (entry[1] is not None and entry[1] <= now):
            return None
        return json.loads(entry[0])

    def state_put(
        self, namespace: str, key: str, value: Any, *, expires_at: int | None, now: int
    ) -> None:
        """See :meth:`DeskStore.state_put`."""
        text = json.dumps(value)
        with self._lock:
            self._set_state(namespace, key, text, expires_at, now)

    def state_put_new(
        self, namespace: str, key: str, value: Any, *, expires_at: int | None, now: int
    ) -> bool:
        """See :meth:`DeskStore.state_put_new`."""
        text = json.dumps(value)
        with self._lock:
            entry = self._state.get((namespace, key))
            if entry is not None and (entry[1] is None or entry[1] > now):
                return False
            self._set_state(namespace, key, text, expires_at, now)
            return True

    def state_delete(self, namespace: str, key: str) -> None:
        """See :meth:`DeskStore.state_delete`."""
        with self._lock:
            self._state.pop((namespace, key), None)

    def _set_state(
        self, namespace: str, key: str, text: str, expires_at: int | None, now: int
    ) -> None:
        """Store one entry and drop a few expired ones (under the lock)."""
        for _ in range(STATE_PRUNE_BATCH):
            if not self._expiry or self._expiry[0][0] > now:
                break
            at, old_namespace, old_key = heapq.heappop(self._expiry)
            entry = self._state.get((old_namespace, old_key))
            if entry is not None and entry[1] == at:  # not rewritten since
                del self._state[old_namespace, old_key]
        self._state[namespace, key] = (text, expires_at)
        if expires_at is not None:
            heapq.heappush(self._expiry, (expires_at, namespace, key))

    def append_article(
        self,
        article_id: str,
        events: Sequence[ArticleEvent],
        *,
        expected_version: int,
        outbox: Sequence[OutboxMessage] = (),
    ) -> int:
        """See :meth:`DeskStore.append_article`."""
        events = list(events)
        with self._lock:
            log = self._articles.get(article_id, [])
            article = check_article_append(article_id, log, events, expected_version)
            if article is not None and events:
                self._articles[article_id] = [*log, *events]
                self._article_log.extend(events)
                self._article_index.put(article)
                for message in outbox:
                    if message.key not in self._outbox:
                        self._put(message)
                        self._pending[message.key] = None
            return expected_version + len(events)

    def article_events(self, article_id: str | None = None) -> list[ArticleEvent]:
        """See :meth:`DeskStore.article_events`."""
        with self._lock:
            return list(
                self._article_log if article_id is None else self._articles.get(article_id, ())
            )

    def search_articles(
        self,
        terms: Sequence[str],
        *,
        k: int,
        locale: str | None = None,
        tags: Sequence[str] = (),
        area: str | None = None,
    ) -> list[ArticleHit]:
        """See :meth:`DeskStore.search_articles` (BM25 in memory, prefix matching)."""
        terms = check_search(terms, k)
        with self._lock:
            return self._article_index.search(terms, k=k, locale=locale, tags=tags, area=area)

    # --- listing, restoring and rewriting ---------------------------------------------------

    def message_index(self) -> list[tuple[str, str, str]]:
        """See :meth:`DeskStore.message_index`."""
        with self._lock:
            return sorted((c, m, t) for (c, m), t in self._messages.items())

    def alert_index(self) -> list[tuple[str, str]]:
        """See :meth:`DeskStore.alert_index`."""
        with self._lock:
            return sorted((t, key) for t, keys in self._alerts.items() for key in keys)

    def meta_items(self) -> list[tuple[str, Any]]:
        """See :meth:`DeskStore.meta_items`."""
        with self._lock:
            return [(key, json.loads(text)) for key, text in sorted(self._meta.items())]

    def state_items(self, *, now: int) -> list[tuple[str, str, Any, int | None]]:
        """See :meth:`DeskStore.state_items`."""
        with self._lock:
            return [
                (namespace, key, json.loads(text), expires)
                for (namespace, key), (text, expires) in sorted(self._state.items())
                if expires is None or expires > now
            ]

    def set_meta_if(self, key: str, value: Any, *, expected: Any) -> bool:
        """See :meth:`DeskStore.set_meta_if` (under the sidecar's lock)."""
        text = json.dumps(value)
        with self._lock:
            found = self._meta.get(key)
            if (None if found is None else json.loads(found)) != expected:
                return False
            self._meta[key] = text
            return True

    def restore(
        self,
        *,
        events: Sequence[tuple[int, TicketEvent]] = (),
        messages: Sequence[tuple[str, str, str]] = (),
        alerts: Sequence[tuple[str, str]] = (),
        due: Sequence[tuple[str, int]] = (),
        outbox: Sequence[OutboxMessage] = (),
        meta: Sequence[tuple[str, Any]] = (),
        state: Sequence[tuple[str, str, Any, int | None]] = (),
    ) -> None:
        """See :meth:`DeskStore.restore`: every check first, then the writes, under the lock."""
        runs = event_runs(events)
        with self._lock:
            versions: dict[str, int] = {}
            for ticket_id, at, run in runs:
                check_batch(ticket_id, run)
                current = versions.get(ticket_id, self.events.version(ticket_id))
                check_version(ticket_id, at, current)
                versions[ticket_id] = at + len(run)
            for ticket_id, at, run in runs:
                self.events.append(ticket_id, run, expected_version=at)
            for channel, message_id, ticket_id in messages:
                self._messages.setdefault((channel, message_id), ticket_id)
            for ticket_id, key in alerts:
                self._alerts.setdefault(ticket_id, set()).add(key)
            for ticket_id, due_at in due:
                self._due[ticket_id] = due_at
                self._claims.pop(ticket_id, None)
            for message in outbox:
                if message.key not in self._outbox:
                    self._put(message)
                    if message.status == "pending":
                        self._pending[message.key] = None
            for key, value in meta:
                self._meta.setdefault(key, json.dumps(value))
            for namespace, key, value, expires_at in state:
                if (namespace, key) not in self._state:
                    self._state[namespace, key] = (json.dumps(value), expires_at)
                    if expires_at is not None:
                        heapq.heappush(self._expiry, (expires_at, namespace, key))

    def redact(
        self,
        events: Sequence[tuple[int, TicketEvent]],
        *,
        tickets: Sequence[str],
        message_ids: Sequence[tuple[str, str, str]] = (),
        payload: Mapping[str, Any],
        reason: str,
        scrub: bool = True,
    ) -> int:
        """See :meth:`DeskStore.redact` (*scrub* has nothing to do in memory); the wrapped
        store must have ``rewrite`` (as :class:`~supportkit.InMemoryStore` does)."""
        rewrite = getattr(self.events, "rewrite", None)
        if rewrite is None:
            raise StoreError(f"{self.events!r} cannot rewrite stored events (no rewrite method)")
        with self._lock:
            rewrite(events)
            for channel, old, new in message_ids:
                ticket_id = self._messages.pop((channel, old), None)
                if ticket_id is not None:
                    self._messages.setdefault((channel, new), ticket_id)
            count = 0
            chosen = set(tickets)
            for key in list(self._outbox):
                message = self._get(key)
                if message.ticket_id in chosen:
                    dead = message.status == "pending"
                    self._put(
                        attrs.evolve(
                            message,
                            payload=dict(payload),
                            status="dead" if dead else message.status,
                            last_error=reason if dead else message.last_error,
                        )
                    )
                    self._pending.pop(key, None)
                    count += 1
            for ticket_id in chosen:
                self._snapshots.pop(ticket_id, None)
            return count

    def append_sessions(self, events: Sequence[SessionEvent]) -> None:
        """See :meth:`DeskStore.append_sessions`."""
        items = check_sessions(events)
        with self._lock:
            self._sessions.extend(items)

    def session_events(self, *, since: int | None = None) -> list[SessionEvent]:
        """See :meth:`DeskStore.session_events`."""
        bound = since_epoch(since)
        with self._lock:
            return [e for e in self._sessions if bound is None or e.ts >= bound]

    def redact_sessions(self, customer: str, pseudonym: str) -> int:
        """See :meth:`DeskStore.redact_sessions`."""
        with self._lock:
            hits = [n for n, e in enumerate(self._sessions) if e.customer == customer]
            for n in hits:
                self._sessions[n] = redacted_session(self._sessions[n], pseudonym)
            return len(hits)

    def _put(self, message: OutboxMessage) -> None:
        # A tuple of plain values (the payload as its key names and its values): once the
        # cyclic collector has seen it, such a row is no longer tracked, so a large outbox
        # does not slow every full collection (a payload value that is a dict or list keeps
        # its row tracked, which is all that costs).
        m = message
        self._outbox[m.key] = (
            m.key,
            m.topic,
            m.ticket_id,
            _shape(tuple(m.payload)),
            tuple(m.payload.values()),
            m.created_at,
            m.status,
            m.attempts,
            m.next_attempt_at,
            m.last_error,
            m.delivered_at,
        )

    def _get(self, key: str) -> OutboxMessage:
        key, topic, ticket_id, names, values, *rest = self._outbox[key]
        return OutboxMessage(key, topic, ticket_id, dict(zip(names, values, strict=True)), *rest)

    def __repr__(self) -> str:
        return f"<MemorySidecar of {self.events!r}>"
