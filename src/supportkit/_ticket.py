"""``Ticket``: the snapshot of a ticket, computed as a fold over its events.

The fold accumulates into a private mutable ``_Fold`` (evolving a 20-field frozen snapshot per
event would cost several µs) and freezes a :class:`Ticket` only when asked. Replaying any prefix
of a log gives the ticket as it was at that time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import attrs

from ._lifecycle import TRANSITIONS, _refused
from ._model import Priority, Role, Status, TicketEvent
from ._time import from_epoch
from .exceptions import EventError, TicketStateError

__all__ = ["Ticket"]


@attrs.frozen
class Satisfaction:
    """The latest satisfaction rating of a ticket (any part may be missing)."""

    csat: str | None = None
    score: int | None = None
    nps: int | None = None
    ces: int | None = None
    comment: str = ""


_UTC_AT = datetime.fromtimestamp


def _at(ts: int | None) -> datetime | None:
    return None if ts is None else _UTC_AT(ts, UTC)


@attrs.frozen
class Ticket:
    """A ticket as of its last applied event. Instants are aware datetimes in UTC.

    Build one with :meth:`from_events` (or many with :meth:`replay`), and move it forward with
    :meth:`apply`, which returns a new snapshot and leaves this one untouched.
    """

    id: str
    status: Status
    priority: Priority
    channel: str
    subject: str
    created_at: datetime
    created_by: Role
    updated_at: datetime
    version: int
    """Number of events folded into this snapshot (the store's per-ticket version)."""
    customer: str | None = None
    organisation: str | None = None
    tier: str | None = None
    language: str | None = None
    assignee: str | None = None
    group: str | None = None
    tags: frozenset[str] = frozenset()
    reopen_count: int = 0
    escalation_level: str | None = None
    escalation_count: int = 0
    first_customer_message_at: datetime | None = None
    last_customer_message_at: datetime | None = None
    first_agent_reply_at: datetime | None = None
    last_agent_reply_at: datetime | None = None
    agent_replies: int = 0
    """Public agent messages so far (one-touch resolution counts these)."""
    solved_at: datetime | None = None
    closed_at: datetime | None = None
    merged_into: str | None = None
    satisfaction: Satisfaction | None = None
    sla_policy: str | None = None
    sla_policy_version: int | str | None = None
    problem: str | None = None
    """The problem ticket this incident is linked to (``linked_to_problem``), if any."""
    sla_calendar: str | None = None
    """The name of the business calendar the ticket's SLA clocks count on, fixed by its first
    ``sla_policy_applied`` event that names one (``None``: the desk's calendar for its policy)."""

    @classmethod
    def from_events(cls, events: Iterable[TicketEvent]) -> Ticket:
        """Fold one ticket's log (in order, starting with ``created``) into a snapshot.

        Raises :class:`~supportkit.TicketStateError` on an empty log, a log that does not
        start with ``created``, events of another ticket, events out of time order or a
        transition the lifecycle forbids.
        """
        fold: _Fold | None = None
        for event in events:
            if fold is None:
                fold = _Fold.start(event)
            else:
                fold.apply(event)
        if fold is None:
            raise TicketStateError("cannot build a ticket from an empty event log")
        return fold.freeze()

    @classmethod
    def replay(cls, events: Iterable[TicketEvent]) -> dict[str, Ticket]:
        """Fold an interleaved log of many tickets; return ``{ticket_id: Ticket}``.

        This is the bulk path: one mutable accumulator per ticket, frozen once at the end.
        """
        folds: dict[str, _Fold] = {}
        for event in events:
            fold = folds.get(event.ticket_id)
            if fold is None:
                folds[event.ticket_id] = _Fold.start(event)
            else:
                fold.apply(event)
        return {ticket_id: fold.freeze() for ticket_id, fold in folds.items()}

    def apply(self, event: TicketEvent) -> Ticket:
        """Return the snapshot after *event*; raise ``TicketStateError`` if it is not allowed."""
        fold = _Fold.thaw(self)
        fold.apply(event)
        return fold.freeze()


def _check_is_event(event: object) -> None:
    if not isinstance(event, TicketEvent):
        raise EventError(
            f"a ticket folds TicketEvent objects, got {type(event).__name__} {event!r}; build "
            "events from dicts with TicketEvent.from_dict"
        )


_UNCHANGED_ON_CLOSED = frozenset(
    {
        "satisfaction_rated",
        "tagged",
        "article_helped",
        "article_not_helped",
        "engineering_issue_changed",
    }
)
#: One empty tag set shared by every untagged ticket (``frozenset(())`` is a new object each
#: time, which the cyclic collector tracks for as long as the ticket lives).
_NO_TAGS: frozenset[str] = frozenset()
# Module constants: reading an enum member off its class is slow in Python 3.11 (about 70 ns).
_NEW = Status.NEW
_SOLVED = Status.SOLVED
_CLOSED = Status.CLOSED
_CUSTOMER = Role.CUSTOMER
_AGENT = Role.AGENT


class _Fold:
    """The mutable accumulator behind :class:`Ticket` (instants as epoch seconds)."""

    __slots__ = (
        "agent_replies",
        "assignee",
        "channel",
        "closed_at",
        "created_at",
        "created_by",
        "customer",
        "escalation_count",
        "escalation_level",
        "first_agent_reply_at",
        "first_customer_message_at",
        "group",
        "id",
        "language",
        "last_agent_reply_at",
        "last_customer_message_at",
        "merged_into",
        "organisation",
        "priority",
        "problem",
        "reopen_count",
        "satisfaction",
        "sla_calendar",
        "sla_policy",
        "sla_policy_version",
        "solved_at",
        "status",
        "subject",
        "tags",
        "tier",
        "updated_at",
        "version",
    )

    id: str
    status: Status
    priority: Priority
    channel: str
    subject: str
    created_at: int
    created_by: Role
    updated_at: int
    version: int
    customer: str | None
    organisation: str | None
    tier: str | None
    language: str | None
    assignee: str | None
    group: str | None
    tags: frozenset[str]
    reopen_count: int
    escalation_level: str | None
    escalation_count: int
    first_customer_message_at: int | None
    last_customer_message_at: int | None
    first_agent_reply_at: int | None
    last_agent_reply_at: int | None
    agent_replies: int
    solved_at: int | None
    closed_at: int | None
    merged_into: str | None
    satisfaction: Satisfaction | None
    sla_policy: str | None
    sla_policy_version: int | str | None
    problem: str | None
    sla_calendar: str | None

    @classmethod
    def start(cls, event: TicketEvent) -> _Fold:
        _check_is_event(event)
        if event.kind != "created":
            raise TicketStateError(
                f"ticket {event.ticket_id}: its log must start with a 'created' event, "
                f"not {event.kind!r} (event {event.id})",
                ticket_id=event.ticket_id,
                event=event,
            )
        data = event.data
        fold = cls()
        fold.id = event.ticket_id
        fold.status = _NEW
        fold.priority = data["priority"]
        fold.channel = data["channel"]
        fold.subject = data["subject"]
        fold.created_at = fold.updated_at = event.ts
        fold.created_by = event.by
        fold.version = 1
        fold.customer = data["customer"]
        fold.organisation = data["organisation"]
        fold.tier = data["tier"]
        fold.language = data["language"]
        fold.assignee = None
        fold.group = data["group"]
        fold.tags = frozenset(data["tags"]) if data["tags"] else _NO_TAGS
        fold.reopen_count = fold.escalation_count = fold.agent_replies = 0
        fold.escalation_level = fold.merged_into = fold.satisfaction = None
        fold.first_customer_message_at = fold.last_customer_message_at = None
        fold.first_agent_reply_at = fold.last_agent_reply_at = None
        fold.solved_at = fold.closed_at = None
        fold.sla_policy = fold.sla_policy_version = fold.problem = fold.sla_calendar = None
        return fold

    @classmethod
    def thaw(cls, ticket: Ticket) -> _Fold:
        fold = cls()
        for name in cls.__slots__:
            value = getattr(ticket, name)
            if isinstance(value, datetime):
                value = int(value.timestamp())
            setattr(fold, name, value)
        return fold

    def freeze(self) -> Ticket:
        # Spelled out (no getattr loop): freezing is on the bulk replay path.
        return Ticket(
            self.id,
            self.status,
            self.priority,
            self.channel,
            self.subject,
            _UTC_AT(self.created_at, UTC),
            self.created_by,
            _UTC_AT(self.updated_at, UTC),
            self.version,
            self.customer,
            self.organisation,
            self.tier,
            self.language,
            self.assignee,
            self.group,
            self.tags,
            self.reopen_count,
            self.escalation_level,
            self.escalation_count,
            _at(self.first_customer_message_at),
            _at(self.last_customer_message_at),
            _at(self.first_agent_reply_at),
            _at(self.last_agent_reply_at),
            self.agent_replies,
            _at(self.solved_at),
            _at(self.closed_at),
            self.merged_into,
            self.satisfaction,
            self.sla_policy,
            self.sla_policy_version,
            self.problem,
            self.sla_calendar,
        )

    def apply(self, event: TicketEvent) -> None:
        if type(event) is not TicketEvent:
            _check_is_event(event)
        if event.ticket_id != self.id:
            raise TicketStateError(
                f"ticket {self.id}: event {event.id} belongs to ticket {event.ticket_id}",
                ticket_id=self.id,
                status=self.status.value,
                event=event,
            )
        if event.ts < self.updated_at:
            raise TicketStateError(
                f"ticket {self.id}: event {event.id} at {event.at.isoformat()} is earlier than "
                f"the previous event at {from_epoch(self.updated_at).isoformat()}; logs are in "
                "time order (events with the same instant keep log order)",
                ticket_id=self.id,
                status=self.status.value,
                event=event,
            )
        if self.status is _CLOSED and event.kind not in _UNCHANGED_ON_CLOSED:
            raise TicketStateError(
                f"ticket {self.id}: event {event.id} ({event.kind}) on a closed ticket; closed is "
                "final, so open a follow-up ticket instead",
                ticket_id=self.id,
                status=self.status.value,
                event=event,
            )
        handler = _HANDLERS.get(event.kind)
        if handler is None:
            raise TicketStateError(
                f"ticket {self.id}: a second 'created' event ({event.id})"
                if event.kind == "created"
                else f"ticket {self.id}: cannot apply {event.kind!r} event {event.id}",
                ticket_id=self.id,
                status=self.status.value,
                event=event,
            )
        handler(self, event)
        self.updated_at = event.ts
        self.version += 1

    def _message(self, event: TicketEvent) -> None:
        if not event.data["public"]:
            return
        by = event.by
        if by is _CUSTOMER:
            if self.first_customer_message_at is None:
                self.first_customer_message_at = event.ts
            self.last_customer_message_at = event.ts
        elif by is _AGENT:
            if self.first_agent_reply_at is None:
                self.first_agent_reply_at = event.ts
            self.last_agent_reply_at = event.ts
            self.agent_replies += 1

    def _status_changed(self, event: TicketEvent) -> None:
        status = self.status
        target = TRANSITIONS.get((status, event.data["to"]))
        if target is None:
            raise _refused(status, event.data["to"], self.id, event)
        if status is _SOLVED and target is not _CLOSED:
            self.reopen_count += 1
            self.solved_at = None
        if target is _SOLVED:
            self.solved_at = event.ts
        elif target is _CLOSED:
            self.closed_at = event.ts
        self.status = target

    def _assigned(self, event: TicketEvent) -> None:
        data = event.data
        if data["agent"] is not None:
            self.assignee = data["agent"]
        if data["group"] is not None:
            self.group = data["group"]

    def _priority_changed(self, event: TicketEvent) -> None:
        self.priority = event.data["to"]

    def _tier_changed(self, event: TicketEvent) -> None:
        self.tier = event.data["to"]

    def _escalated(self, event: TicketEvent) -> None:
        self.escalation_level = event.data["level"]
        self.escalation_count += 1
        target = event.data["target"]
        if target is not None:  # the target's team owns it until someone is assigned again
            self.group = target
            self.assignee = None

    def _handed_off(self, event: TicketEvent) -> None:
        # Follow the sun: the next team on shift owns it until someone there takes it.
        self.group = event.data["to"]
        self.assignee = None

    def _tagged(self, event: TicketEvent) -> None:
        self.tags = (self.tags | frozenset(event.data["add"])) - frozenset(event.data["remove"])

    def _merged(self, event: TicketEvent) -> None:
        if event.data["into"] == self.id:
            raise TicketStateError(
                f"ticket {self.id}: cannot merge a ticket into itself (event {event.id})",
                ticket_id=self.id,
                status=self.status.value,
                event=event,
            )
        # Merging closes the source ticket; the target carries the conversation on.
        self.merged_into = event.data["into"]
        self.status = _CLOSED
        self.closed_at = event.ts

    def _linked_to_problem(self, event: TicketEvent) -> None:
        problem = event.data["problem"]
        if problem == self.id or self.problem is not None:
            why = (
                "a ticket cannot be its own problem"
                if problem == self.id
                else f"it is already linked to problem {self.problem} (unlink it first)"
            )
            raise TicketStateError(
                f"ticket {self.id}: cannot link to problem {problem}: {why} (event {event.id})",
                ticket_id=self.id,
                status=self.status.value,
                event=event,
            )
        self.problem = problem

    def _unlinked(self, event: TicketEvent) -> None:
        if event.data["problem"] != self.problem:
            raise TicketStateError(
                f"ticket {self.id}: cannot unlink from problem {event.data['problem']}: it is "
                f"linked to {self.problem or 'no problem'} (event {event.id})",
                ticket_id=self.id,
                status=self.status.value,
                event=event,
            )
        self.problem = None

    def _satisfaction_rated(self, event: TicketEvent) -> None:
        self.satisfaction = Satisfaction(**event.data)

    def _nothing(self, event: TicketEvent) -> None:
        """Self-service events leave the snapshot as it is (metrics fold them), as do engineering
        issue states (the next-step engine reads them from the log)."""

    def _sla_policy_applied(self, event: TicketEvent) -> None:
        self.sla_policy = event.data["policy"]
        self.sla_policy_version = event.data["version"]
        if self.sla_calendar is None:  # fixed once recorded: never switched mid-ticket
            self.sla_calendar = event.data.get("calendar")


_HANDLERS: dict[str, Callable[[_Fold, TicketEvent], None]] = {
    "message": _Fold._message,
    "status_changed": _Fold._status_changed,
    "assigned": _Fold._assigned,
    "priority_changed": _Fold._priority_changed,
    "tier_changed": _Fold._tier_changed,
    "escalated": _Fold._escalated,
    "tagged": _Fold._tagged,
    "handed_off": _Fold._handed_off,
    "merged": _Fold._merged,
    "linked_to_problem": _Fold._linked_to_problem,
    "unlinked": _Fold._unlinked,
    "engineering_issue_changed": _Fold._nothing,
    "satisfaction_rated": _Fold._satisfaction_rated,
    "kb_article_viewed": _Fold._nothing,
    "articles_suggested": _Fold._nothing,
    "article_helped": _Fold._nothing,
    "article_not_helped": _Fold._nothing,
    "deflected": _Fold._nothing,
    "sla_policy_applied": _Fold._sla_policy_applied,
}
