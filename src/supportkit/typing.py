"""Protocols for people who extend supportkit with classes of their own.

Everything here is a :class:`typing.Protocol`: implement the methods, no base class needed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from ._clock import Clock
from ._model import TicketEvent
from ._routing import SelectionStrategy

__all__ = ["Clock", "EventStore", "SelectionStrategy"]


@runtime_checkable
class EventStore(Protocol):
    """An append-only log of :class:`~supportkit.TicketEvent` with per-ticket versions.

    A ticket's version is the number of events in its log (0 for an unknown ticket). Appends are
    optimistic: they name the version the caller last read, and fail with
    :class:`~supportkit.ConcurrencyError` if anyone appended since, so two writers never
    interleave unseen.
    """

    def append(
        self, ticket_id: str, events: Sequence[TicketEvent], *, expected_version: int
    ) -> int:
        """Append *events* (all of *ticket_id*) atomically and return the new version.

        Raises :class:`~supportkit.ConcurrencyError` if the ticket's version is not
        *expected_version*, and :class:`~supportkit.StoreError` (nothing written) for events of
        another ticket. An empty *events* changes nothing and returns the current version.
        """
        ...

    def read(self, ticket_id: str, *, after: int = 0) -> list[TicketEvent]:
        """Return the ticket's events after version *after*, in log order."""
        ...

    def version(self, ticket_id: str) -> int:
        """Return the ticket's current version (0 if it has no events)."""
        ...

    def ticket_ids(self) -> list[str]:
        """Return the ids of every ticket in the store, in order of creation."""
        ...

    def read_all(self) -> Iterator[TicketEvent]:
        """Yield every event of every ticket in global append order."""
        ...
