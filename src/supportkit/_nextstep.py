"""The "next step" guarantee: for every open ticket, who owes what by when.

:func:`next_step` folds a ticket's log (plus, optionally, its SLA deadline, the router's state and
the escalation ladder) into a :class:`NextStep`; :func:`audit_next_steps` lists the open tickets
that have neither an owner (an agent or a group) nor a due time, so a host application can make
sure no customer is left without a next step.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ._escalation import ENGINEERING, ticket_owner
from ._model import Priority, Status, TicketEvent
from ._time import from_epoch, to_epoch
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from ._escalation import EscalationLadder
    from ._routing import Router
    from ._sla import SlaCycle
    from ._ticket import Ticket

__all__ = ["NextStep", "Party", "StepAction", "audit_next_steps", "next_step", "sla_deadline"]


def sla_deadline(evaluation: Mapping[str, Iterable[SlaCycle]] | None) -> datetime | None:
    """The ticket's SLA due time: the earliest deadline among the running cycles of its
    :class:`~supportkit.SlaEvaluation` (``None`` without one, or while no cycle runs).

    This is the *deadline* to pass to :func:`next_step`. It is not ``SlaEvaluation.next_due``,
    which is the next alert instant (the 50 % warning comes long before the reply is due).
    """
    if evaluation is None:
        return None
    return min(
        (
            cycle.deadline
            for cycles in evaluation.values()
            for cycle in cycles
            if cycle.running and cycle.deadline is not None
        ),
        default=None,
    )


WONT_FIX = "wont_fix"
"""The engineering issue state that hands a problem's incidents back to their agents."""


class Party(enum.StrEnum):
    """Who the next step waits on."""

    TEAM = "team"
    """Nobody is assigned yet: the queue (or the owning group) must pick the ticket up."""
    AGENT = "agent"
    """The assigned agent owes the next step."""
    CUSTOMER = "customer"
    """The customer owes an answer (the ticket is pending)."""
    ENGINEERING = "engineering"
    """Engineering owes a fix or an answer."""
    THIRD_PARTY = "third_party"
    """Someone outside the desk (on hold); the owner chases them."""


class StepAction(enum.StrEnum):
    """What is owed."""

    ASSIGN = "assign"
    """Route the ticket to an agent."""
    REPLY = "reply"
    """The customer spoke last (or has had no answer yet): the agent owes a reply."""
    FOLLOW_UP = "follow_up"
    """The agent answered but the ticket is open: the agent owes an update or a resolution."""
    CUSTOMER_RESPONSE = "customer_response"
    """The ticket is pending: the customer owes an answer."""
    ENGINEERING_FIX = "engineering_fix"
    """Escalated to engineering: a fix (or an answer from R&D) is pending."""
    THIRD_PARTY = "third_party"
    """On hold, waiting on someone outside the desk; the owner chases them."""


@attrs.frozen
class NextStep:
    """Who owes what by when for one open ticket.

    ``waiting_on`` owes ``action``; ``owner`` is the agent answerable for the ticket and
    ``group`` its team (either may be ``None``); ``due`` is the deadline when known (the SLA
    deadline the caller passed or the router knows).
    """

    ticket_id: str
    action: StepAction
    waiting_on: Party
    owner: str | None
    group: str | None
    due: datetime | None
    status: Status
    level: str | None = None
    """The ticket's escalation level, if it was escalated."""
    priority: Priority = Priority.NORMAL
    """The ticket's priority (orders steps that are due at the same time)."""
    problem: str | None = None
    """The problem ticket this incident is linked to: its fix is what the incident waits for."""
    problem_owner: str | None = None
    """Who owns that problem (its assignee, else its group), if anyone."""
    problem_issue: str | None = None
    """The state of that problem's engineering issue as its log last recorded it
    (``engineering_issue_changed``: ``"open"``, ``"fixed"``, ``"released"`` or
    ``"wont_fix"``), ``None`` if it recorded none."""

    @property
    def owned(self) -> bool:
        """Whether an agent or a group answers for the ticket (for a linked incident, the
        problem's owner answers for it too)."""
        return self.owner is not None or self.group is not None or self.problem_owner is not None

    @property
    def note(self) -> str:
        """The step in words for a linked incident: ``"engineering fix pending on problem T-1,
        owned by ann"``, or, once engineering won't fix it, ``"engineering won't fix problem
        T-1 (owned by ann): answer the customer"``; ``""`` for other steps."""
        owner = self.problem_owner or "nobody yet"
        if self.problem is None:
            return ""
        if self.action is StepAction.ENGINEERING_FIX:
            return f"engineering fix pending on problem {self.problem}, owned by {owner}"
        if self.problem_issue == WONT_FIX:
            why = f"engineering won't fix problem {self.problem} (owned by {owner})"
            return f"{why}: answer the customer"
        return ""

    def overdue(self, at: datetime) -> bool:
        """Whether the step is due before *at*."""
        return self.due is not None and self.due < at


def _due(value: datetime | int | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        to_epoch(value, "deadline", ConfigurationError)  # refuses naive datetimes
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return from_epoch(value)
    raise ConfigurationError(f"deadline must be an aware datetime or epoch seconds, got {value!r}")


def next_step(
    events: Iterable[TicketEvent],
    *,
    deadline: datetime | int | None = None,
    router: Router | None = None,
    ladder: EscalationLadder | None = None,
    problem_owner: str | None = None,
    problem_solved: bool = False,
    problem_issue: str | None = None,
) -> NextStep | None:
    """Who owes what by when for the ticket whose log is *events*; ``None`` once solved or closed.

    *deadline* is when the ticket's SLA falls due: :func:`sla_deadline` of its
    :class:`~supportkit.SlaEvaluation` (the earliest running cycle's deadline; not
    ``SlaEvaluation.next_due``, which is the next warning instant); without it the router's
    deadline for the ticket, if any, is used. *router* adds
    the group a queued ticket waits for; *ladder* says which levels are engineering (without
    one, only a level named ``"engineering"`` is). An incident linked to a problem (and not
    pending on its customer) waits for the problem's engineering fix, owned by
    *problem_owner* (the problem ticket's assignee, else its group: see :attr:`NextStep.note`),
    until the problem is solved or closed (*problem_solved*) or its engineering issue's last
    recorded state (*problem_issue*, see :func:`problem_issue`) is ``"wont_fix"``: then its
    step is an ordinary one for an agent (:attr:`NextStep.note` says engineering won't fix).
    A ticket escalated to engineering whose own issue's last recorded state is ``"wont_fix"``
    no longer waits on engineering either.
    """
    log = events if isinstance(events, Sequence) else list(events)
    ticket, owner = ticket_owner(log)
    if ticket.status in (Status.SOLVED, Status.CLOSED):
        return None
    group = ticket.group
    due = _due(deadline)
    if router is not None and ticket.id in router:
        routed = router.ticket(ticket.id)
        if due is None and routed.deadline is not None:
            due = from_epoch(routed.deadline)
        if routed.queued:
            group = routed.requirements.group or group
    level = ticket.escalation_level
    engineering = ladder.is_engineering(level) if ladder is not None else level == ENGINEERING
    engineering = engineering and issue_state(log) != WONT_FIX
    waits = ticket.problem is not None and not problem_solved and problem_issue != WONT_FIX
    status = ticket.status
    if status is Status.PENDING:
        action, party = StepAction.CUSTOMER_RESPONSE, Party.CUSTOMER
    elif engineering or waits:
        action, party = StepAction.ENGINEERING_FIX, Party.ENGINEERING
    elif status is Status.ON_HOLD:
        action, party = StepAction.THIRD_PARTY, Party.THIRD_PARTY
    elif owner is None:
        action, party = StepAction.ASSIGN, Party.TEAM
    elif ticket.last_agent_reply_at is None or (
        ticket.last_customer_message_at is not None
        and ticket.last_customer_message_at > ticket.last_agent_reply_at
    ):
        action, party = StepAction.REPLY, Party.AGENT
    else:
        action, party = StepAction.FOLLOW_UP, Party.AGENT
    if ticket.problem is None:
        problem_owner = problem_issue = None
    return NextStep(
        ticket.id,
        action,
        party,
        owner,
        group,
        due,
        status,
        level,
        ticket.priority,
        ticket.problem,
        problem_owner,
        problem_issue,
    )


def problem_owner(
    log: Sequence[TicketEvent], logs: Mapping[str, Sequence[TicketEvent]]
) -> str | None:
    """The owner (assignee, else group) of the problem the ticket whose log is *log* is linked
    to, looked up in *logs* (ticket id -> log); ``None`` if not linked or nobody owns it."""
    found = _problem(log, logs)
    if found is None:
        return None
    ticket, owner = found
    return owner or ticket.group


def problem_solved(log: Sequence[TicketEvent], logs: Mapping[str, Sequence[TicketEvent]]) -> bool:
    """Whether the problem the ticket whose log is *log* is linked to (looked up in *logs*) is
    solved or closed: its fix is no longer pending."""
    found = _problem(log, logs)
    return found is not None and found[0].status in (Status.SOLVED, Status.CLOSED)


def issue_state(log: Iterable[TicketEvent]) -> str | None:
    """The state of the ticket's engineering issue its log *log* last recorded
    (``engineering_issue_changed``), or ``None``."""
    state = None
    for event in log:
        if event.kind == "engineering_issue_changed":
            state = event.data["state"]
    return state


def problem_issue(
    log: Sequence[TicketEvent], logs: Mapping[str, Sequence[TicketEvent]]
) -> str | None:
    """The last recorded state of the engineering issue of the problem the ticket whose log is
    *log* is linked to (looked up in *logs*), or ``None``."""
    problem = _problem_id(log)
    return None if problem is None or problem not in logs else issue_state(logs[problem])


def _problem_id(log: Sequence[TicketEvent]) -> str | None:
    problem = None
    for event in log:
        if event.kind == "linked_to_problem":
            problem = event.data["problem"]
        elif event.kind == "unlinked":
            problem = None
    return problem


def _problem(
    log: Sequence[TicketEvent], logs: Mapping[str, Sequence[TicketEvent]]
) -> tuple[Ticket, str | None] | None:
    """The linked problem's ticket and assignee, if it is linked to one found in *logs*."""
    problem = _problem_id(log)
    if problem is None or problem not in logs:
        return None
    return ticket_owner(logs[problem])


def audit_next_steps(
    events: Iterable[TicketEvent],
    *,
    deadlines: Mapping[str, datetime | int] | None = None,
    router: Router | None = None,
    ladder: EscalationLadder | None = None,
) -> list[NextStep]:
    """The open tickets with no owner (no agent, no group) and no due time, in log order.

    *events* is an interleaved log of many tickets (``store.read_all()``); *deadlines* maps a
    ticket id to its SLA due time (:func:`sla_deadline`). An empty answer means every customer
    has a next step.
    """
    logs: dict[str, list[TicketEvent]] = {}
    for event in events:
        logs.setdefault(event.ticket_id, []).append(event)
    deadlines = deadlines or {}
    orphans = []
    for ticket_id, log in logs.items():
        step = next_step(
            log,
            deadline=deadlines.get(ticket_id),
            router=router,
            ladder=ladder,
            problem_owner=problem_owner(log, logs),
            problem_solved=problem_solved(log, logs),
            problem_issue=problem_issue(log, logs),
        )
        if step is not None and not step.owned and step.due is None:
            orphans.append(step)
    return orphans
