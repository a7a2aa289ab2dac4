"""The values a :class:`~supportkit.typing.DeskStore` writes and returns: :class:`Commit` (one
desk operation, written atomically) and :class:`OutboxMessage` (a row of the outbox)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._model import TicketEvent
from ._ticket import Ticket

__all__ = ["OUTBOX_STATUSES", "Commit", "OutboxMessage"]

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
