"""What :class:`~supportkit.SupportDesk` needs from a store beyond the event log.

Every desk operation is one :class:`Commit`: the ticket's new events, the channel message id it
consumed (idempotency), the ticket snapshot, the ticket's next SLA due instant, the outbox
messages to deliver and the SLA alert keys it emitted, written atomically or not at all.
A :class:`DeskStore` does that in one transaction (``SqliteStore``); any plain
:class:`~supportkit.typing.EventStore` (``InMemoryStore``, a plugin's store) gets the same
capabilities from :class:`MemorySidecar`, which keeps the extras in process memory, so the desk
has one code path.

A conflict inside a commit (a stale version, a message id or an alert key already recorded) is a
:class:`~supportkit.ConcurrencyError`: another writer got there first; re-read and retry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from ._lifecycle import parse_status
from ._model import Priority, Role, TicketEvent
from ._store import check_batch, check_version
from ._ticket import Satisfaction, Ticket
from ._time import from_epoch, to_epoch
from .exceptions import ConcurrencyError, StoreError
from .typing import EventStore

__all__ = [
    "OUTBOX_STATUSES",
    "Commit",
    "DeskStore",
    "MemorySidecar",
    "OutboxMessage",
    "duplicate_message",
    "ticket_from_dict",
    "ticket_to_dict",
]

#: An outbox message is ``pending`` until delivered, or ``dead`` after too many failures.
OUTBOX_STATUSES = ("pending", "delivered", "dead")


@attrs.frozen
class OutboxMessage:
    """A notification or outbound reply waiting in (or done with) the outbox.

    ``key`` is the idempotency key handed to the receiver (redelivery reuses it), ``topic``
    says what it is (``"reply"``, ``"ticket_created"``, ``"sla_breach"``, ...), and instants are
    epoch seconds.
    """

    key: str
    topic: str
    ticket_id: str
    payload: Mapping[str, Any]
    created_at: int
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: int | None = None
    last_error: str | None = None
    delivered_at: int | None = None

    def due_at(self) -> int:
        """The instant from which the message may be (re)tried."""
        return self.created_at if self.next_attempt_at is None else self.next_attempt_at


@attrs.frozen
class Commit:
    """Everything one desk operation writes, atomically.

    ``message`` is the ``(channel, message_id)`` the operation consumed, ``snapshot`` the ticket
    after ``events``, ``due`` the ticket's next SLA warning or breach (epoch seconds; ``None``
    removes it from the due index), ``outbox`` the messages to deliver and ``alerts`` the SLA
    alert keys emitted.
    """

    ticket_id: str
    events: tuple[TicketEvent, ...]
    expected_version: int
    message: tuple[str, str] | None = None
    snapshot: Ticket | None = None
    due: int | None = None
    outbox: tuple[OutboxMessage, ...] = ()
    alerts: tuple[str, ...] = ()
    keep_due: bool = False
    """Leave the due index as it is (the desk knows ``due`` did not change)."""


@runtime_checkable
class DeskStore(EventStore, Protocol):
    """An :class:`~supportkit.typing.EventStore` that can also do what the desk needs."""

    def commit(self, commit: Commit) -> int:
        """Write *commit* atomically and return the ticket's new version.

        Raises :class:`~supportkit.ConcurrencyError` (nothing written) if the version is stale,
        the message id was already ingested or an alert key was already recorded.
        """
        ...

    def message_ticket(self, channel: str, message_id: str) -> str | None:
        """The ticket a channel message went into, or ``None`` if it was never ingested."""
        ...

    def snapshot(self, ticket_id: str) -> Ticket | None:
        """The latest stored snapshot (it may lag the log: compare ``.version``)."""
        ...

    def due(self, until: int, *, limit: int = 500) -> list[tuple[str, int]]:
        """``(ticket_id, due)`` pairs with ``due <= until``, earliest (then by id) first."""
        ...

    def alerts(self, ticket_id: str) -> frozenset[str]:
        """The SLA alert keys already emitted for the ticket."""
        ...

    def claim_outbox(self, now: int, *, limit: int, lease: int) -> list[OutboxMessage]:
        """Take up to *limit* pending messages due by *now* and hide them for *lease* seconds.

        A claimed message that is neither delivered nor failed within the lease (its deliverer
        died) becomes due again, so delivery is at-least-once.
        """
        ...

    def settle_outbox(
        self,
        at: int,
        delivered: Sequence[str] = (),
        failed: Sequence[tuple[str, str, int | None]] = (),
    ) -> None:
        """Record delivery attempts at *at* in one write: *delivered* keys, and *failed*
        ``(key, error, retry_at)`` triples (``retry_at`` ``None`` dead-letters the message).
        Each counts one attempt."""
        ...

    def outbox(self, status: str | None = None) -> list[OutboxMessage]:
        """Every outbox message (of one status if given), oldest first."""
        ...

    def prune_outbox(self, before: int) -> int:
        """Forget the messages delivered before *before*; return how many (dead letters stay)."""
        ...


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

    The extras (idempotency index, snapshots, due index, outbox, alert keys) live in this
    object, under one lock with the append, so they are exactly as durable as process memory:
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
            if self._alerts.get(commit.ticket_id, set()).intersection(commit.alerts):
                raise alert_conflict(commit, actual)
            version = self.events.append(
                commit.ticket_id, commit.events, expected_version=commit.expected_version
            )
            if commit.message is not None:
                self._messages[commit.message] = commit.ticket_id
            if commit.snapshot is not None:
                self._snapshots[commit.ticket_id] = commit.snapshot
            if commit.keep_due:
                pass
            elif commit.due is None:
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

    def message_ticket(self, channel: str, message_id: str) -> str | None:
        """See :meth:`DeskStore.message_ticket`."""
        return self._messages.get((channel, message_id))

    def snapshot(self, ticket_id: str) -> Ticket | None:
        """See :meth:`DeskStore.snapshot`."""
        return self._snapshots.get(ticket_id)

    def due(self, until: int, *, limit: int = 500) -> list[tuple[str, int]]:
        """See :meth:`DeskStore.due` (a sort of the due entries: fine at in-memory sizes)."""
        with self._lock:
            found = [(due, ticket) for ticket, due in self._due.items() if due <= until]
        found.sort()
        return [(ticket, due) for due, ticket in found[:limit]]

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
