"""Engineering links: a problem ticket escalated to an issue tracker's issue.

Issue trackers are registered through ``supportkit_register_issue_trackers`` (a
:class:`supportkit.typing.IssueTracker`: create, link, update and read webhooks). Every call
to a tracker goes through the desk's outbox (topic :data:`TOPIC`), never inside the agent's
action: the request to create or link an issue is a row committed with the problem's note, and
each link or unlink of an incident a row committed with its event, which brings the issue's
affected-customers figures up to date when delivered (computed then, so late deliveries carry
the latest figures). The desk keeps the link in its store's state under :data:`NAMESPACE`
(``problem:<id>`` -> the issue, ``issue:<tracker>:<key>`` -> the problem) and writes an
internal note on the problem for every step, so the ticket's log tells the story.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from ._commit import OutboxMessage
from ._model import TicketEvent
from .exceptions import ConfigurationError

__all__ = ["NAMESPACE", "AffectedCustomers", "EngineeringIssue", "IssueState", "IssueUpdate"]

NAMESPACE = "supportkit.engineering"
"""The store state namespace of the problem <-> issue links."""

TOPIC = "issue_tracker"
"""The outbox topic of the rows that call issue trackers."""

IssueState = str
"""One of ``"open"``, ``"fixed"``, ``"released"`` and ``"wont_fix"``."""

STATES = ("open", "fixed", "released", "wont_fix")


def _state(_: Any, __: Any, value: Any) -> None:
    if value not in STATES:
        raise ConfigurationError(f"an issue state is one of {', '.join(STATES)}, got {value!r}")


def _non_empty(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"an engineering issue's {attribute.name} must be non-empty text")


@attrs.frozen
class EngineeringIssue:
    """An issue in an engineering tracker: the *tracker*'s registered name, its *key* there
    (``"acme/app#12"``), a *url* for people and its *state* (see :data:`IssueState`)."""

    tracker: str = attrs.field(validator=_non_empty)
    key: str = attrs.field(validator=_non_empty)
    url: str = ""
    state: str = attrs.field(default="open", validator=_state)

    def to_dict(self) -> dict[str, str]:
        """The issue as a JSON-compatible dict (what the desk stores)."""
        return attrs.asdict(self)


@attrs.frozen
class IssueUpdate:
    """A change a tracker reported (through its webhook): issue *key* is now in *state*."""

    key: str = attrs.field(validator=_non_empty)
    state: str = attrs.field(validator=_state)


@attrs.frozen
class AffectedCustomers:
    """Who a problem affects, for engineering's priorities: the problem ticket and its
    incidents counted once per customer (a ticket without a customer counts as its own).

    ``customers`` is that count; ``tiers`` the customers per tier name (``"none"`` for no
    tier); ``top_tier`` how many are in the desk's highest-weight tier; ``weight`` the sum of
    their tiers' weights (:attr:`supportkit.Tier.weight`; an unknown tier weighs 0).
    ``value`` is the sum of the customers' values from the CRM (``supportkit_lookup_value``:
    revenue, seats, whatever the host's CRM mapping reads), over the ``valued`` customers it
    knows a value for; ``None`` when it knows none (no CRM, or no figures in it).
    """

    customers: int
    top_tier: int
    weight: int
    tiers: Mapping[str, int] = attrs.field(factory=dict)
    value: float | None = None
    valued: int = 0

    def summary(self) -> str:
        """One line for an issue's body: ``"3 customers (1 top tier), weight 12, value
        250000 (2 valued): gold 1, silver 2"`` (no value part without one)."""
        tiers = ", ".join(f"{name} {count}" for name, count in sorted(self.tiers.items()))
        value = "" if self.value is None else f", value {self.value:g} ({self.valued} valued)"
        return (
            f"{self.customers} customers ({self.top_tier} top tier), weight {self.weight}"
            + value
            + (f": {tiers}" if tiers else "")
        )


def affected(
    tickets: Iterable[Any],
    weights: Mapping[str, int],
    value: Callable[[Any], float | None] = lambda _: None,
) -> AffectedCustomers:
    """The :class:`AffectedCustomers` of *tickets* (a problem and its incidents), with the
    tier *weights* of the desk (tier name -> weight) and *value* giving a ticket's customer's
    value (asked once per customer, with the first of their tickets)."""
    first: dict[str, Any] = {}
    for ticket in tickets:
        first.setdefault(ticket.customer or f"ticket:{ticket.id}", ticket)
    tier_of = {key: ticket.tier or "none" for key, ticket in first.items()}
    top = max(weights.values(), default=None)
    tiers: dict[str, int] = {}
    for tier in tier_of.values():
        tiers[tier] = tiers.get(tier, 0) + 1
    values = [v for t in first.values() if t.customer and (v := value(t)) is not None]
    return AffectedCustomers(
        customers=len(tier_of),
        top_tier=sum(1 for t in tier_of.values() if top is not None and weights.get(t) == top),
        weight=sum(weights.get(t, 0) for t in tier_of.values()),
        tiers=tiers,
        value=sum(values) if values else None,
        valued=len(values),
    )


def tracker_named(trackers: Mapping[str, Any], name: object) -> Any:
    """The registered tracker *name*; a :class:`ConfigurationError` naming the registered ones."""
    tracker = trackers.get(name) if isinstance(name, str) else None
    if tracker is None:
        raise ConfigurationError(
            f"no issue tracker named {name!r} is registered (registered: "
            f"{', '.join(trackers) or 'none'}); install the plugin that provides it"
        )
    return tracker


def stored_issue(value: Any) -> EngineeringIssue | None:
    """The issue a state value holds, or ``None``."""
    if not isinstance(value, dict):
        return None
    return EngineeringIssue(**value)


def request_row(
    problem_id: str, event_id: str, tracker: str, reference: str | None, now: int
) -> OutboxMessage:
    """The outbox row asking *tracker* for an issue for *problem_id* (a new one, or the
    existing *reference*), keyed by the note *event_id* that records the request."""
    return OutboxMessage(
        key=f"issue:{event_id}",
        topic=TOPIC,
        ticket_id=problem_id,
        payload={
            "action": "create" if reference is None else "link",
            "tracker": tracker,
            "reference": reference,
        },
        created_at=now,
    )


def update_rows(events: list[TicketEvent], now: int) -> list[OutboxMessage]:
    """The outbox rows bringing the issue of each problem that *events* link an incident to,
    or unlink one from, up to date."""
    return [
        OutboxMessage(
            key=f"issue:{event.id}",
            topic=TOPIC,
            ticket_id=event.ticket_id,
            payload={"action": "update", "problem": event.data["problem"]},
            created_at=now,
        )
        for event in events
        if event.kind in ("linked_to_problem", "unlinked")
    ]
