"""The Ticket snapshot is a pure fold of its events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    EventError,
    Priority,
    Role,
    Satisfaction,
    Status,
    Ticket,
    TicketEvent,
    TicketStateError,
)
from supportkit._lifecycle import TRANSITIONS

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def ev(
    kind: str, minute: int, by: str = "system", ticket: str = "T-1", **data: object
) -> TicketEvent:
    return TicketEvent(kind, ticket_id=ticket, at=T0 + timedelta(minutes=minute), by=by, data=data)


LOG = [
    ev("created", 0, "customer", priority="high", customer="c-1", tier="gold", tags=["billing"]),
    ev("message", 1, "customer"),
    ev("message", 2, "agent", public=False),
    ev("assigned", 3, agent="ann", group="l1"),
    ev("message", 5, "agent"),
    ev("status_changed", 6, to="pending"),
    ev("message", 30, "customer"),
    ev("status_changed", 30, to="open"),
    ev("escalated", 40, level="engineering", target="eng", reason="bug"),
    ev("priority_changed", 41, to="urgent"),
    ev("tagged", 42, add=["bug"], remove=["billing"]),
    ev("message", 50, "agent"),
    ev("status_changed", 60, to="solved"),
    ev("satisfaction_rated", 61, "customer", csat="bad", comment="slow"),
    ev("status_changed", 62, to="open"),
    ev("status_changed", 70, to="solved"),
    ev("status_changed", 80, to="closed"),
]


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_full_log_snapshot() -> None:
    """Folding a whole log gives every derived field."""
    ticket = Ticket.from_events(LOG)
    assert Status.CLOSED == ticket.status
    assert Priority.URGENT == ticket.priority
    assert (None, "eng", "engineering", 1) == (
        ticket.assignee,
        ticket.group,
        ticket.escalation_level,
        ticket.escalation_count,
    )
    assert frozenset({"bug"}) == ticket.tags
    assert 1 == ticket.reopen_count
    assert (at(1), at(30)) == (ticket.first_customer_message_at, ticket.last_customer_message_at)
    assert (at(5), at(50), 2) == (
        ticket.first_agent_reply_at,
        ticket.last_agent_reply_at,
        ticket.agent_replies,
    )
    assert (at(70), at(80)) == (ticket.solved_at, ticket.closed_at)
    assert Satisfaction(csat="bad", comment="slow") == ticket.satisfaction
    assert (len(LOG), at(80), Role.CUSTOMER) == (
        ticket.version,
        ticket.updated_at,
        ticket.created_by,
    )


def test_escalation_with_a_target_clears_the_assignee() -> None:
    """The target's team owns an escalated ticket: its agent is cleared, its group set."""
    log = [*LOG[:4], ev("escalated", 4, level="L2", target="l2", reason="hard")]
    ticket = Ticket.from_events(log)
    assert (None, "l2") == (ticket.assignee, ticket.group)


def test_escalation_without_a_target_keeps_the_assignee() -> None:
    """Without a target nobody else takes over, so the agent keeps the ticket."""
    log = [*LOG[:4], ev("escalated", 4, level="L2", target=None, reason="hard")]
    ticket = Ticket.from_events(log)
    assert ("ann", "l1") == (ticket.assignee, ticket.group)


@pytest.mark.parametrize("n", range(1, len(LOG) + 1))
def test_prefix_replay_equals_incremental_apply(n: int) -> None:
    """Replaying a prefix equals applying the same events one by one to earlier snapshots."""
    ticket = Ticket.from_events(LOG[:1])
    for event in LOG[1:n]:
        ticket = ticket.apply(event)
    assert Ticket.from_events(LOG[:n]) == ticket


def test_apply_leaves_the_old_snapshot_alone() -> None:
    """``apply`` returns a new snapshot; the old one still shows the earlier state."""
    before = Ticket.from_events(LOG[:5])
    after = before.apply(LOG[5])
    assert (Status.NEW, Status.PENDING) == (before.status, after.status)


def test_replay_many_tickets_interleaved() -> None:
    """``Ticket.replay`` folds an interleaved log of several tickets."""
    other = [ev("created", 0, ticket="T-2"), ev("status_changed", 3, ticket="T-2", to="open")]
    merged = [LOG[0], other[0], *LOG[1:4], other[1], *LOG[4:]]
    tickets = Ticket.replay(merged)
    assert Ticket.from_events(LOG) == tickets["T-1"]
    assert Status.OPEN == tickets["T-2"].status


@pytest.mark.parametrize(
    ("log", "message"),
    [
        ([], "empty event log"),
        ([ev("message", 0)], "must start with a 'created' event"),
        ([LOG[0], ev("created", 1)], "second 'created'"),
        ([LOG[0], ev("message", 1, ticket="T-2")], "belongs to ticket T-2"),
        ([LOG[0], ev("message", 5), ev("message", 4)], "earlier than the previous event"),
        ([LOG[0], ev("status_changed", 1, to="closed")], "from new to closed"),
        ([*LOG, ev("message", 90, "customer")], "closed is final"),
        ([LOG[0], ev("merged", 1, into="T-1")], "into itself"),
    ],
)
def test_invalid_logs_raise(log: list[TicketEvent], message: str) -> None:
    """Logs the lifecycle forbids raise TicketStateError with a clear message."""
    with pytest.raises(TicketStateError, match=message):
        Ticket.from_events(log)


def test_refused_event_leaves_snapshot_unchanged() -> None:
    """A refused ``apply`` raises and the snapshot it was called on is unchanged."""
    ticket = Ticket.from_events(LOG[:5])
    with pytest.raises(TicketStateError) as info:
        ticket.apply(ev("status_changed", 6, to="closed"))
    assert info.value.event is not None
    assert Ticket.from_events(LOG[:5]) == ticket


def test_merge_closes_the_source() -> None:
    """A merged ticket is closed and points at the ticket it was merged into."""
    ticket = Ticket.from_events([LOG[0], ev("merged", 5, into="T-9")])
    assert (Status.CLOSED, "T-9", at(5)) == (ticket.status, ticket.merged_into, ticket.closed_at)


def test_same_instant_events_keep_log_order() -> None:
    """Events with the same timestamp are applied in log order."""
    ticket = Ticket.from_events(
        [LOG[0], ev("status_changed", 1, to="solved"), ev("status_changed", 1, to="open")]
    )
    assert (Status.OPEN, 1) == (ticket.status, ticket.reopen_count)


@given(st.lists(st.sampled_from([s for s in Status if s is not Status.NEW]), max_size=25))
def test_status_fold_follows_the_lifecycle(targets: list[Status]) -> None:
    """For any sequence of status changes, the fold either follows the table or refuses."""
    ticket = Ticket.from_events([LOG[0]])
    for minute, target in enumerate(targets, 1):
        allowed = (ticket.status, target) in TRANSITIONS
        event = ev("status_changed", minute, to=target.value)
        if allowed:
            ticket = ticket.apply(event)
            assert target == ticket.status
        else:
            with pytest.raises(TicketStateError):
                ticket.apply(event)


def test_folding_something_else_than_events_is_an_event_error() -> None:
    """Dicts (or anything but TicketEvents) are refused with a hint to use from_dict."""
    raw = LOG[0].to_dict()
    with pytest.raises(EventError, match=r"TicketEvent\.from_dict"):
        Ticket.from_events([raw])  # type: ignore[list-item]
    with pytest.raises(EventError, match="got dict"):
        Ticket.from_events(LOG[:1]).apply(raw)  # type: ignore[arg-type]
