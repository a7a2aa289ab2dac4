"""The in-memory event store (tests, simulations, benchmarks)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from ._model import TicketEvent
from .exceptions import ConcurrencyError, StoreError

__all__ = ["InMemoryStore", "check_batch"]


def check_batch(ticket_id: str, events: Sequence[TicketEvent]) -> None:
    """Refuse a batch that holds anything but events of *ticket_id* (shared by every store)."""
    for event in events:
        if not isinstance(event, TicketEvent):
            raise StoreError(
                f"ticket {ticket_id}: can only append TicketEvent objects, got {event!r}"
            )
        if event.ticket_id != ticket_id:
            raise StoreError(
                f"ticket {ticket_id}: event {event.id} belongs to ticket {event.ticket_id}; "
                "nothing was appended"
            )


def check_version(ticket_id: str, expected: int, actual: int) -> None:
    """Raise :class:`ConcurrencyError` unless *expected* == *actual*."""
    if type(expected) is not int or expected < 0:
        raise StoreError(
            f"ticket {ticket_id}: expected_version must be a whole number >= 0, got {expected!r}"
        )
    if expected != actual:
        raise ConcurrencyError(
            f"ticket {ticket_id}: expected version {expected} but the store is at {actual}; "
            "someone appended first, so re-read the ticket and retry",
            ticket_id=ticket_id,
            expected=expected,
            actual=actual,
        )


class InMemoryStore:
    """An :class:`~supportkit.typing.EventStore` in a dict; thread-safe, gone with the process."""

    def __init__(self) -> None:
        self._logs: dict[str, list[TicketEvent]] = {}
        self._all: list[TicketEvent] = []
        self._lock = threading.Lock()

    def append(
        self, ticket_id: str, events: Sequence[TicketEvent], *, expected_version: int
    ) -> int:
        """Append *events* at *expected_version*; see :class:`~supportkit.typing.EventStore`."""
        events = list(events)
        check_batch(ticket_id, events)
        with self._lock:
            log = self._logs.get(ticket_id)
            check_version(ticket_id, expected_version, 0 if log is None else len(log))
            if not events:
                return expected_version
            if log is None:
                log = self._logs[ticket_id] = []
            log.extend(events)
            self._all.extend(events)
            return len(log)

    def read(self, ticket_id: str, *, after: int = 0) -> list[TicketEvent]:
        """Return the ticket's events after version *after*."""
        with self._lock:
            return list(self._logs.get(ticket_id, ())[after:])

    def version(self, ticket_id: str) -> int:
        """Return the ticket's version (0 if unknown)."""
        with self._lock:
            return len(self._logs.get(ticket_id, ()))

    def ticket_ids(self) -> list[str]:
        """Return every ticket id in order of creation."""
        with self._lock:
            return list(self._logs)

    def read_all(self) -> Iterator[TicketEvent]:
        """Yield every event in global append order (a snapshot taken at the call)."""
        with self._lock:
            events = list(self._all)
        yield from events

    def rewrite(self, events: Sequence[tuple[int, TicketEvent]]) -> None:
        """Replace stored events in place (erasure): each ``(version, event)`` takes the place
        of ``event.ticket_id``'s event at that version, which must have the same id; all or
        nothing (:class:`StoreError` naming the first mismatch)."""
        with self._lock:
            for version, event in events:
                log = self._logs.get(event.ticket_id, [])
                if not 1 <= version <= len(log) or log[version - 1].id != event.id:
                    raise StoreError(
                        f"ticket {event.ticket_id} has no event {event.id} at version "
                        f"{version}; nothing was rewritten"
                    )
            new = {id(self._logs[e.ticket_id][v - 1]): (v, e) for v, e in events}
            for n, old in enumerate(self._all):
                if id(old) in new:
                    version, event = new[id(old)]
                    self._all[n] = self._logs[event.ticket_id][version - 1] = event

    def __repr__(self) -> str:
        return f"<InMemoryStore tickets={len(self._logs)} events={len(self._all)}>"
