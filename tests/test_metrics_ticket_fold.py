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

    latest = 253_402_300_799  # 9999-12-31T23:59:59Z: the longest first reply from the epoch
    facts = [_solved(f"T-{n}", latest - n) for n in range(36_000)]  # 2**53 s after ~35,600
    states = [
        MetricsAggregator(["all"], exact=True).update(facts, vectorise=flag).to_dict()
        for flag in (False, True)
    ]
    assert states[0] == states[1]
    assert sum(latest - n for n in range(36_000)) == states[1]["state"][0][0][1]["sums"][0]


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
    unchanged, including what they add to a group once derived (the first aggregation does)."""
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
    assert checked._span == facts._derived()
    parts = (facts._created, facts._solved, facts._both)
    assert (checked, parts) == (facts, (checked._created, checked._solved, checked._both))


TOP = 2**64 - 1


def _near_full(groupings: list[str], room: int, *, channel: str = "web") -> Any:
    """An aggregator whose first_reply sums (every group of one ``channel`` ticket) are *room*
    below 2**64 - 1, as a state loaded from elsewhere holds them."""
    from supportkit import MetricsAggregator

    facts = TicketFacts(**{**attrs_of(_solved("T-0", 10)), "channel": channel})
    state = MetricsAggregator(groupings, exact=True).update([facts], vectorise=False).to_dict()
    for grouping in state["state"]:
        for _key, acc in grouping:
            acc["sums"][0] = TOP - room
    return MetricsAggregator.from_dict(state)


def attrs_of(facts: TicketFacts) -> dict[str, Any]:
    """The init fields of *facts* (to build a variant)."""
    import attrs

    return {f.name: getattr(facts, f.name) for f in attrs.fields(TicketFacts) if f.init}


GROUPINGS = ["all", "channel", "priority"]


@pytest.mark.parametrize("vectorise", [False, True], ids=["per-fact", "numpy"])
def test_a_duration_sum_past_2_64_is_refused_and_changes_nothing(vectorise: bool) -> None:
    """Sums spilled silently into the next counter past 2**64 - 1 (counts were guarded, sums
    were not). Both paths now refuse with the same typed error and leave the state as it was;
    reaching 2**64 - 1 exactly is allowed and gives the same state on both paths."""
    pytest.importorskip("numpy")
    from supportkit import ConfigurationError

    agg = _near_full(GROUPINGS, 6)
    before = agg.to_dict()
    with pytest.raises(ConfigurationError) as refused:
        agg.update([_solved("T-1", 3), _solved("T-2", 4)], vectorise=vectorise)
    assert str(refused.value).startswith("the first_reply sum of group [] of all would exceed")
    assert before == agg.to_dict()
    agg.update([_solved("T-1", 3), _solved("T-2", 3)], vectorise=vectorise)
    assert TOP == agg.to_dict()["state"][0][0][1]["sums"][0]
    per_fact = _near_full(GROUPINGS, 6).update([_solved("T-1", 3), _solved("T-2", 3)])
    assert per_fact.to_dict() == agg.to_dict()


def test_both_paths_refuse_with_the_same_message() -> None:
    """The per-fact and numpy paths name the same sum, group and amount."""
    pytest.importorskip("numpy")
    from supportkit import ConfigurationError

    messages = []
    for vectorise in (False, True):
        with pytest.raises(ConfigurationError) as refused:
            _near_full(GROUPINGS, 6).update([_solved("T-1", 7)], vectorise=vectorise)
        messages.append(str(refused.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("vectorise", [False, True], ids=["per-fact", "numpy"])
def test_facts_of_other_groups_still_fold_beside_a_nearly_full_sum(vectorise: bool) -> None:
    """Near the limit a chunk is folded apart and merged (every sum checked): facts of groups
    with room fold as usual, and the state is the one a plain merge of the parts gives."""
    pytest.importorskip("numpy")
    from supportkit import MetricsAggregator

    agg = _near_full(["channel"], 0, channel="email")
    facts = [_solved(f"T-{n}", 60 + n) for n in range(50)]  # channel web: another group
    agg.update(facts, vectorise=vectorise)
    expected = _near_full(["channel"], 0, channel="email")
    expected.merge(MetricsAggregator(["channel"], exact=True).update(facts, vectorise=False))
    assert expected.to_dict() == agg.to_dict()
    assert 50 == agg.report().table("channel")[1].metrics["incoming"]


def test_merging_sums_past_2_64_is_refused_and_changes_nothing() -> None:
    """merge() checks every counter and duration sum, not only the histogram counts."""
    from supportkit import ConfigurationError

    agg = _near_full(GROUPINGS, 6)
    before = agg.to_dict()
    with pytest.raises(ConfigurationError, match=r"first_reply sum .* would exceed 2\*\*64"):
        agg.merge(_near_full(GROUPINGS, 10))
    assert before == agg.to_dict()


def test_presence_past_2_64_is_refused_and_changes_nothing() -> None:
    """add_presence checks every grouping before it adds to any; junk spans are typed errors."""
    from supportkit import ConfigurationError, MetricsAggregator, PresenceSpan

    state = MetricsAggregator(["all", "agent"]).to_dict()
    agg = MetricsAggregator.from_dict(state)
    agg.add_presence(PresenceSpan("ann", "online", 0, 60))
    near = agg.to_dict()
    for _key, acc in near["state"][1]:  # the agent grouping only
        acc["counts"][17] = TOP - 30  # online_seconds
    agg = MetricsAggregator.from_dict(near)
    with pytest.raises(ConfigurationError, match=r"count online_seconds of group \[.ann.\]"):
        agg.add_presence(PresenceSpan("ann", "online", 0, 31))
    assert near == agg.to_dict()
    for junk in (PresenceSpan("ann", "online", "0", 5), PresenceSpan("ann", "online", 0, 2**70)):
        with pytest.raises(ConfigurationError, match="PresenceSpan"):
            agg.add_presence(junk)
    assert near == agg.to_dict()


@pytest.mark.parametrize(
    ("field", "value"),
    [("first_reply", 2**64), ("first_reply", 315_537_897_600), ("as_of", 2**70)],
)
def test_facts_refuse_durations_and_instants_no_datetime_holds(field: str, value: int) -> None:
    """A duration of 2**64 s or more spilled into the next sum within one fact; facts now
    hold what datetimes hold (years 1 to 9999, durations up to 315,537,897,599 s)."""
    from supportkit import ConfigurationError

    with pytest.raises(ConfigurationError, match=field):
        TicketFacts(**{**attrs_of(_solved("T-1", 10)), field: value})


def test_facts_from_a_log_aggregate_as_constructed_facts_do() -> None:
    """from_events leaves what a fact adds to a group to the first aggregation that folds it
    one by one (the numpy path never reads it); such facts, fresh or pickled before that,
    give the report the public constructor's facts give, on the per-fact and numpy paths."""
    import pickle

    from supportkit import BusinessCalendar, MetricsAggregator

    calendar = BusinessCalendar("Europe/Berlin", {"mon": ["09:00-17:00"]})
    logs = []
    for n in range(6):
        log = [
            TicketEvent("created", ticket_id=f"T-{n}", at=T0, by="customer", data={"tier": "pro"})
        ]
        log.append(
            TicketEvent("message", ticket_id=f"T-{n}", at=T0 + timedelta(hours=n), by="agent")
        )
        if n % 2:
            log.append(
                TicketEvent(
                    "status_changed",
                    ticket_id=f"T-{n}",
                    at=T0 + timedelta(days=n),
                    data={"to": "solved"},
                )
            )
        logs.append(log)
    at = T0 + timedelta(days=9)
    facts = [TicketFacts.from_events(log, at=at, calendar=calendar) for log in logs]
    pickled = [pickle.loads(pickle.dumps(f)) for f in facts]
    constructed = [TicketFacts.from_dict(f.to_dict()) for f in facts]

    def report(items: list[TicketFacts], vectorise: bool) -> Any:
        return MetricsAggregator(["all", "tier", "day"]).update(items, vectorise=vectorise).report()

    expected = report(constructed, False)
    assert [expected] * 3 == [report(facts, False), report(pickled, False), report(facts, True)]
