"""The escalation ladder: levels (L1 → L2 → L3 → engineering), triggers and ``escalated`` events.

A ladder is data: each :class:`EscalationLevel` names the team that owns tickets at that level
and the level above it. Triggers (:class:`OnSlaAlert`, :class:`OnReopens`, :class:`OnTier`) and
manual escalations (with a reason) produce an :class:`Escalation`: the ``escalated`` event to
append (the log keeps every step, so the history is the log) and the previous owner, so the desk
can notify them through its plugins. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from ._model import Role, Status, TicketEvent, listed
from ._sla import SLA_METRICS
from ._ticket import Ticket
from .exceptions import ConfigurationError, EventError, TicketStateError

__all__ = [
    "ENGINEERING",
    "Escalation",
    "EscalationLadder",
    "EscalationLevel",
    "OnReopens",
    "OnSlaAlert",
    "OnTier",
    "ticket_owner",
]

ENGINEERING = "engineering"
"""A level of this name counts as an escalation to engineering even without the flag."""


@attrs.frozen
class EscalationLevel:
    """One rung: ``name`` (``L2``), the ``group`` owning tickets there (the event's ``target``),
    the ``next`` level up (default: the following level of the ladder) and whether it is an
    ``engineering`` (R&D) level, which the metrics count apart."""

    name: str = attrs.field()
    group: str | None = None
    next: str | None = None
    engineering: bool = False

    @name.validator
    def _check_name(self, _attribute: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"an escalation level needs a non-empty name, got {value!r}")

    @property
    def is_engineering(self) -> bool:
        """Whether escalating here counts as an escalation to engineering."""
        return self.engineering or self.name == ENGINEERING


class SlaAlertLike(Protocol):
    """What a trigger reads from an SLA alert (``supportkit.SlaAlert`` has these)."""

    @property
    def kind(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def level(self) -> float: ...


@attrs.frozen
class OnSlaAlert:
    """Escalate on an SLA ``"breach"`` (or a ``"warning"`` of at least ``min_level``).

    ``metrics`` limits it to some metrics (empty: any); ``to`` is the level to reach (default: one
    level up). Feed each alert once (alerts carry a stable key for that).
    """

    kind: str = attrs.field(default="breach")
    metrics: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    min_level: float = 0.0
    to: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("warning", "breach"):
            raise ConfigurationError(
                f"OnSlaAlert kind must be 'warning' or 'breach', got {self.kind!r}"
            )
        unknown = sorted(self.metrics - set(SLA_METRICS))
        if unknown:
            raise ConfigurationError(
                f"OnSlaAlert: unknown SLA metric(s) {', '.join(map(repr, unknown))}; the "
                f"metrics are {', '.join(SLA_METRICS)}"
            )
        level = self.min_level
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0 <= level <= 1:
            raise ConfigurationError(
                f"OnSlaAlert min_level is a share of the SLA target from 0 to 1 (0.9 = 90 %), "
                f"got {level!r}"
            )
        _check_to(self, self.to, required=False)

    def reason(self, ticket: Ticket, alert: SlaAlertLike | None) -> str | None:
        """Why this trigger fires for *alert*, or ``None``."""
        if alert is None or alert.kind != self.kind or alert.level < self.min_level:
            return None
        if self.metrics and alert.metric not in self.metrics:
            return None
        what = "breached" if alert.kind == "breach" else f"reached {alert.level:.0%}"
        return f"SLA {alert.metric} {what}"


@attrs.frozen
class OnReopens:
    """Escalate to level ``to`` once a ticket has been reopened ``count`` times."""

    count: int
    to: str

    def __attrs_post_init__(self) -> None:
        count = self.count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigurationError(
                f"OnReopens count must be a whole number >= 1 (reopens before escalating), "
                f"got {count!r}"
            )
        _check_to(self, self.to, required=True)

    def reason(self, ticket: Ticket, alert: SlaAlertLike | None) -> str | None:
        """Why this trigger fires, or ``None``."""
        if ticket.reopen_count >= self.count:
            return f"reopened {ticket.reopen_count} times"
        return None


@attrs.frozen
class OnTier:
    """Start tickets of the customer ``tiers`` at level ``to`` (a named path for top accounts)."""

    tiers: frozenset[str] = attrs.field(converter=frozenset)
    to: str

    def __attrs_post_init__(self) -> None:
        if not self.tiers or not all(isinstance(t, str) and t for t in self.tiers):
            raise ConfigurationError(
                f"OnTier needs at least one tier name, got {set(self.tiers) or 'no tiers'}"
            )
        _check_to(self, self.to, required=True)

    def reason(self, ticket: Ticket, alert: SlaAlertLike | None) -> str | None:
        """Why this trigger fires, or ``None``."""
        return f"tier {ticket.tier}" if ticket.tier in self.tiers else None


Trigger = OnSlaAlert | OnReopens | OnTier


def _check_to(trigger: object, to: object, *, required: bool) -> None:
    if (to is None and not required) or (isinstance(to, str) and to):
        return
    raise ConfigurationError(
        f"{type(trigger).__name__}: to must name an escalation level, got {to!r}"
    )


@attrs.frozen
class Escalation:
    """An escalation to record: append ``event``; notify ``previous_owner`` (if any)."""

    ticket_id: str
    from_level: str
    to_level: str
    target: str | None
    reason: str
    previous_owner: str | None
    previous_group: str | None
    engineering: bool
    event: TicketEvent


def ticket_owner(events: Iterable[TicketEvent]) -> tuple[Ticket, str | None]:
    """Fold a log into its :class:`~supportkit.Ticket` and the agent who owns it now.

    That is the ticket's ``assignee``: an escalation with a target hands the ticket to the
    target's team, so the previous agent stops owning it until someone is assigned again.
    """
    ticket = Ticket.from_events(events)
    return ticket, ticket.assignee


class EscalationLadder:
    """Escalation levels, bottom first, and the triggers that climb them.

    Raises :class:`~supportkit.ConfigurationError` for no levels, a repeated name, a ``next`` or
    trigger ``to`` naming an unknown level, or a cycle.
    """

    def __init__(
        self, levels: Sequence[EscalationLevel], *, triggers: Sequence[Trigger] = ()
    ) -> None:
        self.levels: tuple[EscalationLevel, ...] = listed(levels, "EscalationLadder levels")
        if not self.levels:
            raise ConfigurationError("an escalation ladder needs at least one level")
        for level in self.levels:
            if not isinstance(level, EscalationLevel):
                raise ConfigurationError(
                    f"EscalationLadder levels must be EscalationLevel objects, got {level!r:.80}"
                )
        self._by_name: dict[str, EscalationLevel] = {}
        for level in self.levels:
            if level.name in self._by_name:
                raise ConfigurationError(
                    f"escalation level {level.name!r} appears twice (a ladder cannot loop)"
                )
            self._by_name[level.name] = level
        self._next: dict[str, str | None] = {}
        for index, level in enumerate(self.levels):
            following = self.levels[index + 1].name if index + 1 < len(self.levels) else None
            up = level.next if level.next is not None else following
            if up is not None and up not in self._by_name:
                raise ConfigurationError(
                    f"escalation level {level.name!r}: next level {up!r} is not on the ladder "
                    f"({', '.join(self._by_name)})"
                )
            self._next[level.name] = up
        for level in self.levels:
            self._check_no_cycle(level.name)
        self.triggers = listed(triggers, "EscalationLadder triggers")
        for trigger in self.triggers:
            if trigger.to is not None:
                self.level(trigger.to)

    def _check_no_cycle(self, start: str) -> None:
        path = [start]
        current = self._next[start]
        while current is not None:
            if current in path:
                loop = " → ".join([*path[path.index(current) :], current])
                raise ConfigurationError(f"escalation ladder has a cycle: {loop}")
            path.append(current)
            current = self._next[current]

    @property
    def start(self) -> EscalationLevel:
        """The level every ticket starts at (the first one)."""
        return self.levels[0]

    def level(self, name: str) -> EscalationLevel:
        """The level called *name*."""
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown escalation level {name!r}: the ladder has {', '.join(self._by_name)}"
            ) from None

    def above(self, name: str) -> list[str]:
        """The levels above *name*, nearest first."""
        result: list[str] = []
        current = self._next[self.level(name).name]
        while current is not None:
            result.append(current)
            current = self._next[current]
        return result

    def is_engineering(self, name: str | None) -> bool:
        """Whether level *name* counts as engineering (unknown names: only ``"engineering"``)."""
        level = self._by_name.get(name or "")
        return level.is_engineering if level is not None else name == ENGINEERING

    def escalate(
        self,
        events: Iterable[TicketEvent],
        *,
        at: datetime,
        reason: str,
        to: str | None = None,
        by: Role = Role.AGENT,
        actor: str | None = None,
        allow_down: bool = False,
    ) -> Escalation:
        """Escalate by hand (with a *reason*) one level up, or to level *to*.

        *to* must be a level of this ladder (else :class:`~supportkit.ConfigurationError`)
        above the ticket's current one; moving down (or sideways) the ladder raises
        :class:`~supportkit.TicketStateError` unless *allow_down* says it is a deliberate
        de-escalation. A closed ticket, or an *at* earlier than the ticket's last event, raises
        :class:`~supportkit.TicketStateError` too.
        """
        if not isinstance(reason, str) or not reason.strip():
            raise EventError(
                "a manual escalation needs a reason (say why, for the next owner and the metrics)",
                kind="escalated",
                field="reason",
            )
        ticket, owner = ticket_owner(events)
        current = self._current(ticket)
        if ticket.status is Status.CLOSED:
            raise TicketStateError(
                f"ticket {ticket.id}: closed is final, so it cannot be escalated; open a "
                "follow-up ticket instead",
                ticket_id=ticket.id,
                status=ticket.status.value,
            )
        if at < ticket.updated_at:
            raise TicketStateError(
                f"ticket {ticket.id}: an escalation at {at.isoformat()} is earlier than its last "
                f"event at {ticket.updated_at.isoformat()}; logs are in time order",
                ticket_id=ticket.id,
                status=ticket.status.value,
            )
        if to is not None and not allow_down and self.level(to).name not in self.above(current):
            raise TicketStateError(
                f"ticket {ticket.id}: level {to!r} is not above its current level {current!r} "
                f"(above: {', '.join(self.above(current)) or 'none'}); pass allow_down=True to "
                "move it down on purpose",
                ticket_id=ticket.id,
                status=ticket.status.value,
            )
        if to is None:
            up = self._next[current]
            if up is None:
                raise TicketStateError(
                    f"ticket {ticket.id}: already at the top level {current!r}",
                    ticket_id=ticket.id,
                    status=ticket.status.value,
                )
            to = up
        elif self.level(to).name == current:
            raise TicketStateError(
                f"ticket {ticket.id}: already at level {current!r}",
                ticket_id=ticket.id,
                status=ticket.status.value,
            )
        return self._escalation(ticket, owner, current, to, reason, at, by, actor)

    def check(
        self,
        events: Iterable[TicketEvent],
        *,
        at: datetime,
        alert: SlaAlertLike | None = None,
    ) -> Escalation | None:
        """The escalation the triggers ask for now (first trigger that moves the ticket up).

        Triggers only climb: one whose level is not above the ticket's current level is
        ignored, so checking again after the escalation is a no-op. Solved and closed tickets
        never escalate automatically.
        """
        ticket, owner = ticket_owner(events)
        if ticket.status in (Status.SOLVED, Status.CLOSED):
            return None
        current = self._current(ticket)
        above = self.above(current)
        for trigger in self.triggers:
            to = trigger.to if trigger.to is not None else (above[0] if above else None)
            if to is None or to not in above:
                continue
            why = trigger.reason(ticket, alert)
            if why is not None:
                return self._escalation(ticket, owner, current, to, why, at, Role.SYSTEM, None)
        return None

    def _current(self, ticket: Ticket) -> str:
        if ticket.escalation_level is None:
            return self.start.name
        if ticket.escalation_level not in self._by_name:
            raise ConfigurationError(
                f"ticket {ticket.id} is at escalation level {ticket.escalation_level!r}, which "
                f"this ladder does not have ({', '.join(self._by_name)})"
            )
        return ticket.escalation_level

    def _escalation(
        self,
        ticket: Ticket,
        owner: str | None,
        current: str,
        to: str,
        reason: str,
        at: datetime,
        by: Role,
        actor: str | None,
    ) -> Escalation:
        level = self.level(to)
        event = TicketEvent(
            "escalated",
            ticket_id=ticket.id,
            at=at,
            by=by,
            actor=actor,
            data={
                "level": level.name,
                "target": level.group,
                "reason": reason,
                "engineering": level.is_engineering,
            },
        )
        return Escalation(
            ticket_id=ticket.id,
            from_level=current,
            to_level=level.name,
            target=level.group,
            reason=reason,
            previous_owner=owner,
            previous_group=ticket.group,
            engineering=level.is_engineering,
            event=event,
        )

    def __repr__(self) -> str:
        return f"<EscalationLadder {' → '.join(level.name for level in self.levels)}>"
