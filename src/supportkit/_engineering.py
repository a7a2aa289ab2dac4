"""Engineering links: a problem ticket escalated to an issue tracker's issue.

Issue trackers are registered through ``supportkit_register_issue_trackers`` (a
:class:`supportkit.typing.IssueTracker`: create, link, update and read webhooks). The desk keeps
the link in its store's state under :data:`NAMESPACE` (``problem:<id>`` -> the issue,
``issue:<tracker>:<key>`` -> the problem) and writes an internal note on the problem for every
step, so the ticket's log tells the story.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .exceptions import ConfigurationError

__all__ = ["NAMESPACE", "AffectedCustomers", "EngineeringIssue", "IssueState", "IssueUpdate"]

NAMESPACE = "supportkit.engineering"
"""The store state namespace of the problem <-> issue links."""

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
    """

    customers: int
    top_tier: int
    weight: int
    tiers: Mapping[str, int] = attrs.field(factory=dict)

    def summary(self) -> str:
        """One line for an issue's body: ``"3 customers (1 top tier), weight 12: gold 1,
        silver 2"``."""
        tiers = ", ".join(f"{name} {count}" for name, count in sorted(self.tiers.items()))
        return f"{self.customers} customers ({self.top_tier} top tier), weight {self.weight}" + (
            f": {tiers}" if tiers else ""
        )


def affected(tickets: Iterable[Any], weights: Mapping[str, int]) -> AffectedCustomers:
    """The :class:`AffectedCustomers` of *tickets* (a problem and its incidents), with the
    tier *weights* of the desk (tier name -> weight)."""
    tier_of: dict[str, str] = {}
    for ticket in tickets:
        tier_of.setdefault(ticket.customer or f"ticket:{ticket.id}", ticket.tier or "none")
    top = max(weights.values(), default=None)
    tiers: dict[str, int] = {}
    for tier in tier_of.values():
        tiers[tier] = tiers.get(tier, 0) + 1
    return AffectedCustomers(
        customers=len(tier_of),
        top_tier=sum(1 for t in tier_of.values() if top is not None and weights.get(t) == top),
        weight=sum(weights.get(t, 0) for t in tier_of.values()),
        tiers=tiers,
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
