"""Metrics facts come from the one ticket fold, so they cannot drift from ``Ticket``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import Status, Ticket, TicketEvent, TicketFacts, metrics_report

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def ev(kind: str, minute: int, by: str = "agent", **data: Any) -> TicketEvent:
    return TicketEvent(kind, ticket_id="T-1", at=T0 + timedelta(minutes=minute), by=by, data=data)


def test_an_escalation_to_a_target_clears_the_assignee_in_metrics_too() -> None:
    """Ticket.from_events clears the assignee when an escalation names a target team; the
    metrics fold kept the old agent, so the ticket landed under ann in every agent grouping."""
    log = [
        ev("created", 0, by="customer", channel="email"),
        ev("assigned", 1, agent="ann"),
        ev("message", 2, body="looking"),
        ev("escalated", 3, level="L2", target="tier2", reason="stuck"),
        ev("status_changed", 4, to="solved"),
    ]
    ticket = Ticket.from_events(log)
    facts = TicketFacts.from_events(log)
    assert (None, "tier2") == (ticket.assignee, ticket.group)
    assert (ticket.assignee, ticket.group) == (facts.agent, facts.group)
    report = metrics_report([facts], ["agent"])
    assert [(None,)] == [row.key for row in report.table("agent")]


STEPS = st.lists(
    st.one_of(
        st.builds(lambda a: ("assigned", {"agent": a}), st.sampled_from(["ann", "bob"])),
        st.builds(lambda g: ("assigned", {"group": g}), st.sampled_from(["l1", "l2"])),
        st.builds(
            lambda t: ("escalated", {"level": "L2", "target": t, "reason": "r"}),
            st.sampled_from([None, "tier2"]),
        ),
        st.builds(lambda p: ("priority_changed", {"to": p}), st.sampled_from(["low", "high"])),
        st.builds(lambda t: ("tier_changed", {"to": t}), st.sampled_from([None, "gold"])),
    ),
    max_size=8,
)


@given(STEPS)
def test_facts_state_equals_the_ticket_fold(steps: list[tuple[str, dict[str, Any]]]) -> None:
    """For any sequence of assignments, escalations, priority and tier changes, the facts'
    agent, group, tier and priority are the ticket's."""
    log = [ev("created", 0, by="customer", channel="email")]
    log += [ev(kind, n, **data) for n, (kind, data) in enumerate(steps, 1)]
    ticket = Ticket.from_events(log)
    facts = TicketFacts.from_events(log)
    expected = (ticket.assignee, ticket.group, ticket.tier, ticket.priority.value)
    assert expected == (facts.agent, facts.group, facts.tier, facts.priority)


def test_a_session_ticket_created_without_its_ticket_id_is_refused() -> None:
    """A ticket_created session event without data['ticket_id'] counted as deflected (the
    session viewed an article and seemed to create no ticket): it is an EventError now."""
    from supportkit import EventError, SessionEvent, SessionFacts

    with pytest.raises(EventError) as caught:
        SessionEvent("ticket_created", session_id="s1", at=T0)
    assert "ticket_id" == caught.value.field
    with pytest.raises(EventError):
        SessionEvent.from_dict(
            {"v": 1, "kind": "ticket_created", "session_id": "s1", "at": T0.isoformat()}
        )
    events = [
        SessionEvent("article_viewed", session_id="s1", at=T0, data={"article": "a"}),
        SessionEvent("ticket_created", session_id="s1", at=T0, data={"ticket_id": "T-9"}),
    ]
    assert not SessionFacts.from_events(events).deflected


def test_a_goal_trend_orders_hours_by_instant_across_a_fall_back_night() -> None:
    """In Europe/Berlin, 2025-10-26 02:00 happens twice: "02:00+02:00" (00:00 UTC) then
    "02:00+01:00" (01:00 UTC). Ordered as text the later hour came first, so the goal read its
    value, met and change from the wrong hour."""
    from supportkit import Goal

    def created(ticket_id: str, when: datetime) -> TicketFacts:
        event = TicketEvent("created", ticket_id=ticket_id, at=when, data={"channel": "web"})
        return TicketFacts.from_events([event])

    utc_midnight = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    facts = [created("T-a", utc_midnight)]
    facts += [created(f"T-{n}", utc_midnight + timedelta(hours=1)) for n in range(3)]
    goal = Goal("incoming", 2, period="hour")
    report = metrics_report(facts, ["all"], goals=[goal], tz="Europe/Berlin")
    [result] = report.goals
    assert (("2025-10-26T02:00+02:00", 1.0), ("2025-10-26T02:00+01:00", 3.0)) == result.trend
    assert (3.0, False, 2.0) == (result.value, result.met, result.change)


def _solved(ticket_id: str, seconds: int) -> TicketFacts:
    """A ticket whose first reply took *seconds*."""
    return TicketFacts(
        ticket_id=ticket_id,
        created_at=0,
        as_of=seconds,
        status=Status.SOLVED,
        channel="web",
        priority="normal",
        solved_at=seconds,
        first_reply=seconds,
        agent_replies=1,
        ever_solved=True,
    )


def test_duration_sums_are_exact_integers_on_both_paths() -> None:
    """Past 2**53 s a float64 sum loses whole seconds: the numpy path summed durations as
    float64 and drifted from the per-fact path's integers. Both now keep the exact sum."""
    pytest.importorskip("numpy")
    from supportkit import MetricsAggregator

    big = 2**53 + 1
    facts = [_solved("T-a", big), _solved("T-b", 1), _solved("T-c", 1)]
    states = [
        MetricsAggregator(["all"], exact=True).update(facts, vectorise=flag).to_dict()
        for flag in (False, True)
    ]
    assert states[0] == states[1]


def test_a_bad_item_keeps_the_same_facts_on_both_paths() -> None:
    """update() with a bad item after more than a chunk of facts: the per-fact path keeps the
    chunks before it, and the vectorised path now keeps the same (it kept none)."""
    pytest.importorskip("numpy")
    from supportkit import ConfigurationError, MetricsAggregator
    from supportkit._metrics import CHUNK

    facts: list[Any] = [_solved(f"T-{n}", 60) for n in range(CHUNK + 10)] + ["not facts"]
    kept = []
    for flag in (False, True):
        agg = MetricsAggregator(["all"])
        with pytest.raises(ConfigurationError):
            agg.update(facts, vectorise=flag)
        kept.append(agg.report().row()["incoming"])
    assert [CHUNK, CHUNK] == kept


_MOVES = {
    "new": ["open", "pending", "on_hold", "solved"],
    "open": ["pending", "on_hold", "solved"],
    "pending": ["open", "on_hold", "solved"],
    "on_hold": ["open", "pending", "solved"],
    "solved": ["open", "pending", "on_hold", "closed"],
}
LIFE = st.lists(
    st.tuples(
        st.sampled_from(
            (
                "customer",
                "reply",
                "note",
                "status",
                "escalated",
                "tagged",
                "rated",
                "linked",
                "merged",
            )
        ),
        st.integers(0, 3),
        st.integers(1, 3000),
    ),
    max_size=14,
)


@given(LIFE, st.sampled_from(["agent", "customer"]), st.booleans())
def test_facts_from_a_log_pass_the_public_constructor_unchanged(
    life: list[tuple[str, int, int]], opener: str, business: bool
) -> None:
    """from_events builds facts without the public constructor's converters and checks (the
        fold's values are right by construction); for any lifecycle (replies, notes, every allowed
        status move, escalations, tags, ratings, a problem link, a merge), those facts pass that
        constructor
    unchanged, including what they add to a group."""
    from supportkit import BusinessCalendar

    log = [ev("created", 0, by=opener, channel="email", tags=["a"])]
    status, minute = "new", 0
    for what, pick, gap in life:
        if status == "closed" and what not in ("rated", "tagged"):
            continue
        minute += gap
        if what == "customer":
            log.append(ev("message", minute, by="customer"))
        elif what in ("reply", "note"):
            log.append(ev("message", minute, public=what == "reply"))
        elif what == "status":
            status = _MOVES[status][pick % len(_MOVES[status])]
            log.append(ev("status_changed", minute, by="system", to=status))
        elif what == "escalated":
            log.append(ev("escalated", minute, level=("L2", "L3")[pick % 2], engineering=pick == 3))
        elif what == "tagged":
            log.append(ev("tagged", minute, add=[f"t{pick}"], remove=["a"] if pick else []))
        elif what == "rated":
            log.append(ev("satisfaction_rated", minute, by="customer", score=pick + 1, nps=pick))
        elif what == "linked":
            if all(e.kind != "linked_to_problem" for e in log):
                log.append(ev("linked_to_problem", minute, problem="P-1"))
        else:
            log.append(ev("merged", minute, by="system", into="T-2"))
            status = "closed"
    calendar = BusinessCalendar("Europe/Berlin", {"mon": ["09:00-17:00"]}) if business else None
    facts = TicketFacts.from_events(log, calendar=calendar, at=T0 + timedelta(minutes=minute + 5))
    checked = TicketFacts.from_dict(facts.to_dict())
    parts = (facts._created, facts._solved, facts._both)
    assert (checked, parts) == (facts, (checked._created, checked._solved, checked._both))
