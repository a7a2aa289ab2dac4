"""Protocols for people who extend supportkit with classes of their own.

Everything here is a :class:`typing.Protocol`: implement the methods, no base class needed.
Plugins register objects of these shapes through the registration hooks in
:mod:`supportkit.hookspecs` (``register(name, obj)``). Note the two channels:
:class:`supportkit.typing.Channel` is the protocol of an object that talks to a channel, while
:class:`supportkit.Channel` is the enum naming the channel a message came through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeAlias, runtime_checkable

from ._clock import Clock
from ._hookargs import Notice, OutboundReply
from ._model import Customer, InboundMessage, TicketEvent, Tier
from ._routing import SelectionStrategy
from ._sla import SlaPolicy

__all__ = [
    "Channel",
    "Clock",
    "CrmBackend",
    "EventStore",
    "Notice",
    "Notifier",
    "RoutingStrategyFactory",
    "SelectionStrategy",
    "SlaPolicySource",
    "Store",
    "StoreFactory",
]


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


Store: TypeAlias = EventStore
"""The store protocol plugins implement: exactly :class:`EventStore`.

The desk keeps its extras (idempotency index, snapshots, outbox) beside any ``Store``, so an
event log is all a store plugin has to provide.
"""

StoreFactory: TypeAlias = Callable[..., EventStore]
"""What ``supportkit_register_stores`` registers: a callable (often the class) that takes the
store's options as keyword arguments and returns a :class:`Store`."""

RoutingStrategyFactory: TypeAlias = Callable[[], SelectionStrategy]
"""What ``supportkit_register_routing_strategies`` registers: a callable returning a fresh
routing selection strategy (``choose(ticket, candidates)``, like ``supportkit.LeastLoaded``)."""

SlaPolicySource: TypeAlias = Callable[[], Iterable[SlaPolicy]]
"""What ``supportkit_register_sla_policy_sources`` registers: a callable returning
``supportkit.SlaPolicy`` objects, in the order they should be matched."""


@runtime_checkable
class Channel(Protocol):
    """Talks to one channel: parses what arrives, sends agents' replies.

    Not to be confused with the enum :class:`supportkit.Channel`. Register one with
    ``supportkit_register_channels``; the host dispatches on the registered name.
    """

    def parse(self, payload: Any, headers: Mapping[str, str]) -> InboundMessage:
        """Turn a raw *payload* (bytes, text or decoded JSON) into a validated message.

        The message's ``message_id`` must be stable: the same payload delivered twice gives
        the same id, so ingest stays idempotent. Raise :class:`~supportkit.EventError` for a
        payload that is not a valid message.
        """
        ...

    def send(self, reply: OutboundReply) -> str | None:
        """Deliver *reply*; return the channel's id for the sent message (or ``""``).

        Return ``None`` if this channel cannot send replies. Raise
        :class:`~supportkit.IntegrationError` if delivery failed, so the outbox retries.
        """
        ...


@runtime_checkable
class CrmBackend(Protocol):
    """Looks up customers and their tiers in a CRM.

    Register one with ``supportkit_register_crm_backends``.
    """

    def lookup_customer(self, message: InboundMessage) -> Customer | None:
        """Return the customer who sent *message* (by ``message.sender``), or ``None``."""
        ...

    def lookup_tier(self, customer: Customer) -> Tier | None:
        """Return *customer*'s tier, or ``None`` if this backend does not know it."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Receives every lifecycle notice (ticket created, SLA breached, ...).

    Register one with ``supportkit_register_notifiers``. A notifier that raises is reported
    as a :class:`~supportkit.PluginError` and never stops the other receivers.
    """

    def notify(self, notice: Notice) -> None:
        """Handle *notice* (dispatch on ``notice.kind`` to pick the ones you care about)."""
        ...
