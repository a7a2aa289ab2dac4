"""Test helpers for SLA rules: a fluent event-log builder and ``assert_sla`` with a readable diff.

Re-exported by :mod:`supportkit.testing`; kept free of pytest so it imports anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from supportkit._model import TicketEvent
from supportkit._sla._engine import SlaEvaluation, evaluate_sla
from supportkit._sla._scenario import SlaScenario
from supportkit._time import parse_instant
from supportkit.exceptions import ConfigurationError

if TYPE_CHECKING:
    from supportkit._calendar import BusinessCalendar
    from supportkit._sla._policy import SlaPolicy

__all__ = ["TicketLog", "assert_sla", "ticket"]

#: Where relative instants count from when the log has no ``created`` event yet.
DEFAULT_START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

When = datetime | str | timedelta


class TicketLog:
    """A ticket's event log, built fluently: ``ticket().created(t0).reply(t1).pending(t1)``.

    Every method appends one :class:`~supportkit.TicketEvent` and returns the log. An instant
    is an aware ``datetime``, an ISO 8601 string with an offset, or a ``timedelta`` counted from
    the ``created`` event (from *start* before it exists).
    """

    def __init__(self, ticket_id: str = "T-1", *, start: datetime = DEFAULT_START) -> None:
        self.ticket_id = ticket_id
        self.start = start
        self.events: list[TicketEvent] = []

    def __iter__(self) -> Iterator[TicketEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def _at(self, when: When) -> datetime:
        if isinstance(when, timedelta):
            origin = self.events[0].at if self.events else self.start
            return origin + when
        if isinstance(when, str):
            return parse_instant(when, "instant", ConfigurationError)
        return when

    def event(self, kind: str, at: When, *, by: str = "system", **data: Any) -> TicketLog:
        """Append any event kind with its fields (the other methods are shorthands)."""
        self.events.append(
            TicketEvent(
                kind,
                ticket_id=self.ticket_id,
                at=self._at(at),
                by=by,  # type: ignore[arg-type]
                data=data,
                id=f"{self.ticket_id}-e{len(self.events) + 1}",
            )
        )
        return self

    def created(self, at: When = timedelta(0), *, by: str = "customer", **fields: Any) -> TicketLog:
        """The ticket is created (by the customer unless *by* says otherwise)."""
        return self.event("created", at, by=by, **fields)

    def message(self, at: When, *, by: str, public: bool = True, **fields: Any) -> TicketLog:
        """A message by *by* (public unless ``public=False``)."""
        return self.event("message", at, by=by, public=public, **fields)

    def customer(self, at: When, **fields: Any) -> TicketLog:
        """A public message from the customer."""
        return self.message(at, by="customer", **fields)

    def reply(self, at: When, **fields: Any) -> TicketLog:
        """A public agent message (the only thing that counts as a reply)."""
        return self.message(at, by="agent", **fields)

    def note(self, at: When, **fields: Any) -> TicketLog:
        """An internal agent note (not a reply)."""
        return self.message(at, by="agent", public=False, **fields)

    def status(self, at: When, to: str) -> TicketLog:
        """A status change."""
        return self.event("status_changed", at, to=to)

    def open(self, at: When) -> TicketLog:
        """Status to ``open`` (also a reopen from ``solved``)."""
        return self.status(at, "open")

    def pending(self, at: When) -> TicketLog:
        """Status to ``pending`` (waiting on the customer)."""
        return self.status(at, "pending")

    def on_hold(self, at: When) -> TicketLog:
        """Status to ``on_hold`` (waiting on a third party)."""
        return self.status(at, "on_hold")

    def solve(self, at: When) -> TicketLog:
        """Status to ``solved``."""
        return self.status(at, "solved")

    def close(self, at: When) -> TicketLog:
        """Status to ``closed``."""
        return self.status(at, "closed")

    def priority(self, at: When, to: str) -> TicketLog:
        """A priority change."""
        return self.event("priority_changed", at, to=to)

    def merge(self, at: When, into: str) -> TicketLog:
        """The ticket is merged into ticket *into*."""
        return self.event("merged", at, into=into)

    def apply_policy(self, at: When, policy: str, version: int | str = 1) -> TicketLog:
        """An ``sla_policy_applied`` event naming *policy* and *version*."""
        return self.event("sla_policy_applied", at, policy=policy, version=version)

    def evaluate(
        self,
        policy: SlaPolicy | Sequence[SlaPolicy],
        *,
        at: When,
        calendar: BusinessCalendar | None = None,
    ) -> SlaEvaluation:
        """Evaluate this log with :func:`~supportkit.evaluate_sla`."""
        return evaluate_sla(self.events, policy, at=self._at(at), calendar=calendar)


def ticket(ticket_id: str = "T-1", *, start: datetime = DEFAULT_START) -> TicketLog:
    """Start a fluent event log: ``ticket().created(t0, priority="urgent").reply(t1)``."""
    return TicketLog(ticket_id, start=start)


def _as_dict(value: Any) -> Mapping[str, Any]:
    if isinstance(value, SlaScenario):
        return value.evaluate().to_dict()
    if isinstance(value, SlaEvaluation):
        return value.to_dict()
    if isinstance(value, Mapping):
        return value
    raise TypeError(
        "assert_sla compares an SlaEvaluation, an SlaScenario or a dict, "
        f"got {type(value).__name__}"
    )


def sla_differences(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """Line-by-line differences; each expected cycle is compared on the keys it gives."""
    lines = []
    for metric in expected:
        if metric not in actual:
            lines.append(f"{metric}: expected {len(expected[metric])} cycle(s), got no entry")
    for metric, cycles in actual.items():
        if metric not in expected:
            lines.append(f"{metric}: not expected, got {len(cycles)} cycle(s)")
            continue
        wanted = expected[metric]
        if len(wanted) != len(cycles):
            lines.append(f"{metric}: expected {len(wanted)} cycle(s), got {len(cycles)}")
        for index, (want, got) in enumerate(zip(wanted, cycles, strict=False)):
            for key, value in want.items():
                if key not in got:
                    lines.append(f"{metric}[{index}].{key}: expected {value!r}, got no such key")
                elif got[key] != value:
                    lines.append(f"{metric}[{index}].{key}: expected {value!r}, got {got[key]!r}")
    return lines


def assert_sla(actual: Any, expected: Mapping[str, Any] | None = None) -> None:
    """Assert that an SLA evaluation matches *expected*, with a readable diff on failure.

    *actual* is an :class:`~supportkit.SlaEvaluation`, a scenario from :func:`load_scenario`
    (evaluated here; its ``expected`` is used when *expected* is omitted) or an evaluation dict.
    *expected* has the scenario output shape; each expected cycle is compared on the keys it
    lists, so extra keys such as ``remaining_seconds`` may be left out.
    """
    __tracebackhide__ = True
    if expected is None:
        if not isinstance(actual, SlaScenario) or actual.expected is None:
            raise TypeError("give the expected evaluation (or a scenario with an 'expected' entry)")
        expected = actual.expected
    where = f" ({actual.source})" if isinstance(actual, SlaScenario) else ""
    lines = sla_differences(_as_dict(actual), expected)
    if lines:
        raise AssertionError(
            f"SLA evaluation differs from the expected one{where}:\n  " + "\n  ".join(lines)
        )
