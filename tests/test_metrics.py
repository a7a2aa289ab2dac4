"""Metric definitions on hand-computed cases, goals, reports and input errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from supportkit import (
    BusinessCalendar,
    ConfigurationError,
    EventError,
    Goal,
    MetricsAggregator,
    PresenceEvent,
    PresenceState,
    SessionEvent,
    SessionFacts,
    SlaPolicy,
    SlaTarget,
    TicketEvent,
    TicketFacts,
    TicketStateError,
    evaluate_sla,
    metrics_report,
    presence_spans,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
M = 60
H = 3600


class Log:
    """A tiny log builder: ``Log("T1").customer(0).agent(30).solve(60).events``."""

    def __init__(self, ticket_id: str = "T1", by: str = "customer", **created: Any) -> None:
        self.ticket_id = ticket_id
        self.events: list[TicketEvent] = []
        self.add("created", 0, by=by, **created)

    def add(self, kind: str, minute: float, by: str = "system", **data: Any) -> Log:
        at = T0 + timedelta(minutes=minute)
        self.events.append(TicketEvent(kind, ticket_id=self.ticket_id, at=at, by=by, data=data))
        return self

    def customer(self, minute: float) -> Log:
        return self.add("message", minute, by="customer")

    def agent(self, minute: float, public: bool = True) -> Log:
        return self.add("message", minute, by="agent", public=public)

    def status(self, minute: float, to: str) -> Log:
        return self.add("status_changed", minute, to=to)

    def facts(self, **kwargs: Any) -> TicketFacts:
        return TicketFacts.from_events(self.events, **kwargs)


def row(facts: list[TicketFacts], grouping: str = "all", *key: str | None) -> Any:
    return metrics_report(facts, [grouping], exact=True).row(grouping, *key)


# --- per-ticket definitions --------------------------------------------------------------------


def test_first_reply_is_creation_to_first_public_agent_message() -> None:
    """First reply time runs from creation to the first public agent message; notes don't count."""
    facts = Log().customer(0).agent(10, public=False).agent(30).agent(50).facts()
    assert 30 * M == facts.first_reply


def test_first_reply_of_an_agent_created_ticket_skips_the_opening_message() -> None:
    """An agent-created ticket's first public agent message opens it; the next one is the reply."""
    facts = Log(by="agent").agent(0).customer(20).agent(45).facts()
    assert 45 * M == facts.first_reply


def test_next_reply_starts_at_the_first_unanswered_customer_message() -> None:
    """Each next-reply cycle runs from the oldest unanswered customer message to the next reply."""
    log = Log().customer(0).agent(10).customer(20).customer(25).agent(50).customer(60).agent(65)
    assert (30 * M, 5 * M) == log.facts().next_reply


def test_solving_ends_an_unanswered_next_reply_cycle_without_a_sample() -> None:
    """A customer message answered only by solving the ticket yields no next-reply sample."""
    facts = Log().customer(0).agent(10).customer(20).status(30, "solved").agent(40).facts()
    assert () == facts.next_reply


def test_full_resolution_uses_the_latest_solve() -> None:
    """Full resolution time runs from creation to the latest solve of a solved ticket."""
    log = Log().agent(5).status(10, "solved").status(20, "open").status(90, "solved")
    facts = log.facts()
    assert (90 * M, 1, True) == (facts.full_resolution, facts.reopens, facts.ever_solved)


def test_unsolved_ticket_has_no_resolution_figures() -> None:
    """Resolution and requester wait stay undefined until the ticket is solved."""
    facts = Log().status(1, "solved").status(2, "open").facts()
    assert (None, None, None) == (facts.full_resolution, facts.requester_wait, facts.solved_at)


def test_requester_wait_counts_new_open_and_on_hold_only() -> None:
    """Requester wait is the time in new, open and on-hold; pending time is not counted."""
    log = (
        Log()
        .status(10, "pending")  # 10 min new
        .status(40, "open")  # 30 min pending: not counted
        .status(50, "on_hold")  # 10 min open
        .status(70, "solved")  # 20 min on hold
    )
    assert 40 * M == log.facts().requester_wait


def test_business_durations_use_the_calendar() -> None:
    """With a calendar, business figures count only open hours (Friday 16:00 → Monday 10:00)."""
    calendar = BusinessCalendar(
        tz="UTC", weekly={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    friday = T0 - timedelta(days=3) + timedelta(hours=7)  # Fri 16:00
    events = [
        TicketEvent("created", ticket_id="B", at=friday, by="customer"),
        TicketEvent("message", ticket_id="B", at=T0 + timedelta(hours=1), by="agent"),
        TicketEvent(
            "status_changed", ticket_id="B", at=T0 + timedelta(hours=2), data={"to": "solved"}
        ),
    ]
    facts = TicketFacts.from_events(events, calendar=calendar)
    expected = (2 * H, 3 * H, 3 * H, 66 * H)
    assert expected == (
        facts.first_reply_business,
        facts.full_resolution_business,
        facts.requester_wait_business,
        facts.first_reply,
    )


def test_facts_at_an_earlier_instant_ignore_later_events() -> None:
    """``at`` replays the log up to that instant and measures backlog age there."""
    log = Log().agent(10).status(60, "solved")
    facts = log.facts(at=T0 + timedelta(minutes=30))
    age = row([facts])["backlog_age.mean"]
    assert ("new", None, 30.0 * M) == (facts.status.value, facts.solved_at, age)


def test_sla_cycles_are_counted_from_an_evaluation() -> None:
    """An SLA evaluation contributes its met and breached cycles per metric."""
    policy = SlaPolicy(
        "p",
        {
            "normal": {
                "first_reply": SlaTarget(20 * M, False),
                "next_reply": SlaTarget(10 * M, False),
            }
        },
    )
    log = Log().customer(0).agent(15).customer(20).agent(40)
    evaluation = evaluate_sla(log.events, policy, at=T0 + timedelta(hours=1))
    facts = log.facts(sla=evaluation)
    assert (("first_reply", 1, 0), ("next_reply", 0, 1)) == facts.sla


def test_an_invalid_log_is_refused() -> None:
    """Facts are only built from valid logs: a forbidden transition raises TicketStateError."""
    log = Log().status(5, "solved").status(6, "closed").status(7, "open")
    with pytest.raises(TicketStateError, match="closed"):
        log.facts()


# --- aggregated definitions --------------------------------------------------------------------


def _solved(
    ticket_id: str, replies: int, *, reopen: bool = False, escalate: str | None = None
) -> TicketFacts:
    log = Log(ticket_id).customer(0)
    for i in range(replies):
        log.agent(10 + i)
    if escalate:
        log.add("escalated", 20, level=escalate)
    if reopen:
        log.status(30, "solved").status(31, "open")
    return log.status(40, "solved").facts()


def test_one_touch_and_first_contact_resolution_rates() -> None:
    """One-touch = solved with one public agent reply; FCR = ≤1 reply, no reopen, no escalation."""
    facts = [
        _solved("a", 1),  # one-touch, FCR
        _solved("b", 0),  # FCR only (solved on the phone without a reply)
        _solved("c", 1, reopen=True),  # one-touch, not FCR
        _solved("d", 1, escalate="L2"),  # one-touch, not FCR
        _solved("e", 2),  # neither
    ]
    r = row(facts)
    assert (3 / 5, 2 / 5) == (r["one_touch_rate"], r["first_contact_resolution_rate"])


def test_reopen_rate_is_reopened_over_ever_solved() -> None:
    """Reopen rate = tickets reopened at least once / tickets solved at least once."""
    facts = [_solved("a", 1, reopen=True), _solved("b", 1), Log("c").facts()]
    r = row(facts)
    assert (1, 0.5) == (r["reopened"], r["reopen_rate"])


def test_flagged_engineering_level_counts_as_engineering() -> None:
    """An escalation flagged ``engineering`` counts under its level and under engineering."""
    facts = [
        Log("x").add("escalated", 5, level="rnd", engineering=True).facts(),
        Log("y").add("escalated", 5, level="L2").facts(),
    ]
    r = row(facts)
    assert (0.5, 0.5, 0.5) == (
        r["escalation_rate.rnd"],
        r["escalation_rate.engineering"],
        r["escalation_rate.L2"],
    )


def test_escalation_rates_per_level_are_over_incoming() -> None:
    """Escalation rate (per level and any) = escalated tickets / incoming tickets."""
    log = Log("x").add("escalated", 5, level="L2").add("escalated", 6, level="engineering")
    facts = [
        log.facts(),
        Log("y").add("escalated", 5, level="L2").facts(),
        Log("z").facts(),
        Log("w").facts(),
    ]
    r = row(facts)
    expected = (0.5, 0.5, 0.25)
    assert expected == (
        r["escalation_rate"],
        r["escalation_rate.L2"],
        r["escalation_rate.engineering"],
    )


def test_sla_attainment_is_met_over_met_plus_breached() -> None:
    """SLA attainment per metric and overall = met / (met + breached); active cycles don't count."""
    facts = [
        TicketFacts("a", 0, 10, "open", sla=[("first_reply", 1, 0), ("next_reply", 2, 1)]),
        TicketFacts("b", 0, 10, "open", sla=[("first_reply", 0, 1)]),
    ]
    r = row(facts)
    assert (0.5, 2 / 3, 3 / 5) == (
        r["sla.first_reply.attainment"],
        r["sla.next_reply.attainment"],
        r["sla_attainment"],
    )


def test_csat_nps_and_ces() -> None:
    """CSAT = good/(good+bad) (score 4-5 good, 1-3 bad); NPS = %promoters − %detractors; CES."""
    ratings = [
        {"csat": "good", "nps": 10, "ces": 2},
        {"csat": "bad", "nps": 8, "ces": 5},
        {"score": 4, "nps": 3},
        {"score": 2, "nps": 9},
    ]
    facts = [
        Log(f"t{i}").add("satisfaction_rated", 5, by="customer", **r).facts()
        for i, r in enumerate(ratings)
    ]
    r = row(facts)
    assert (0.5, 2, 25.0, 4, 3.5) == (
        r["csat"],
        r["csat_responses"] // 2,
        r["nps"],
        r["nps_responses"],
        r["ces"],
    )


def test_a_later_rating_keeps_the_earlier_surveys_answers() -> None:
    """CSAT, NPS and CES are separate surveys: each keeps its latest answer across ratings."""
    facts = (
        Log()
        .add("satisfaction_rated", 5, by="customer", csat="good", ces=2)
        .add("satisfaction_rated", 9, by="customer", nps=9)
        .add("satisfaction_rated", 12, by="customer", score=2)
        .facts()
    )
    assert ("bad", 9, 2) == (facts.csat, facts.nps, facts.ces)


def test_backlog_and_its_age() -> None:
    """Backlog = unsolved, unmerged tickets at ``as_of``; age = as_of − created."""
    facts = [
        TicketFacts("a", 0, 100, "open"),
        TicketFacts("b", 40, 100, "pending"),
        TicketFacts("c", 0, 100, "solved", solved_at=50),
        TicketFacts("d", 0, 100, "closed", merged=True),
    ]
    r = row(facts)
    assert (2, 80.0, 60.0, 60.0) == (
        r["backlog"],
        r["backlog_age.mean"],
        r["backlog_age.median"],
        r["backlog_age.p90"],
    )


def test_mean_median_and_percentiles_in_exact_mode() -> None:
    """Exact mode: mean, and quantile q = the value of rank floor(q·(n−1)) (numpy 'lower')."""
    facts = [TicketFacts(str(v), 0, 1, "open", first_reply=v) for v in (10, 20, 30, 40, 1000)]
    r = row(facts)
    assert (220.0, 30.0, 40.0, 40.0) == (
        r["first_reply.mean"],
        r["first_reply.median"],
        r["first_reply.p90"],
        r["first_reply.p95"],
    )


def test_tickets_per_agent_is_solved_over_distinct_agents() -> None:
    """Tickets per agent = solved tickets / distinct assignees of solved tickets."""
    facts = [
        TicketFacts(str(i), 0, 9, "solved", solved_at=5, agent=agent)
        for i, agent in enumerate(["ann", "ann", "bob", "ann"])
    ]
    r = row(facts)
    assert (2, 2.0) == (r["agents"], r["tickets_per_agent"])


def test_deflection_counts_knowledge_base_sessions_without_a_ticket() -> None:
    """Deflection rate = KB sessions (≥1 article viewed) not becoming tickets / KB sessions."""

    def session(sid: str, *kinds: str) -> SessionFacts:
        events = [
            SessionEvent(
                kind,
                session_id=sid,
                at=T0 + timedelta(minutes=i),
                data={"ticket_id": "T9"} if kind == "ticket_created" else {},
            )
            for i, kind in enumerate(kinds)
        ]
        return SessionFacts.from_events(events)

    sessions = [
        session("s1", "started", "article_viewed"),
        session("s2", "searched", "article_viewed", "article_viewed"),
        session("s3", "article_viewed", "ticket_created"),
        session("s4", "searched"),  # no article viewed: not a KB session
    ]
    r = metrics_report([], ["all"], sessions=sessions).row("all")
    assert (3, 2, 2 / 3) == (
        r["self_service_sessions"],
        r["deflected_sessions"],
        r["deflection_rate"],
    )


def test_occupancy_is_busy_over_online_plus_busy() -> None:
    """Occupancy = busy time / (available + busy) time; away and offline time don't count."""
    states = [(0, "online"), (60, "busy"), (150, "away"), (170, "online"), (180, "offline")]
    events = [
        PresenceEvent("ann", at=T0 + timedelta(minutes=m), state=PresenceState(s))
        for m, s in states
    ]
    spans = list(presence_spans(events, until=T0 + timedelta(hours=5)))
    report = metrics_report([], ["agent"], presence=spans)
    assert 90 / 160 == report.row("agent", "ann")["occupancy"]


# --- groupings and periods ---------------------------------------------------------------------


def test_groupings_by_tier_channel_and_tag() -> None:
    """Rows per tier, and per tag (a ticket counts once for each of its tags; untagged → None)."""
    facts = [
        TicketFacts("a", 0, 1, "open", tier="gold", tags=("billing", "vip")),
        TicketFacts("b", 0, 1, "open", tier="gold", tags=("billing",)),
        TicketFacts("c", 0, 1, "open"),
    ]
    report = metrics_report(facts, ["tier", "tag"])
    tiers = {r.key: r["incoming"] for r in report.table("tier")}
    tags = {r.key: r["incoming"] for r in report.table("tag")}
    assert ({(None,): 1, ("gold",): 2}, {(None,): 1, ("billing",): 2, ("vip",): 1}) == (tiers, tags)


def test_periods_are_local_to_the_zone_and_solves_anchor_at_the_solve() -> None:
    """Day periods are local dates; solves count in the solve's period, incoming in creation's."""
    created = int(datetime(2025, 3, 30, 22, 30, tzinfo=UTC).timestamp())  # 00:30 Mar 31 in Berlin
    facts = [
        TicketFacts("a", created, created + 5 * 86400, "solved", solved_at=created + 2 * 86400)
    ]
    report = metrics_report(facts, ["day"], tz="Europe/Berlin")
    counts = {r.key[0]: (r["incoming"], r["solved"]) for r in report.table("day")}
    assert {"2025-03-31": (1, 0), "2025-04-02": (0, 1)} == counts


def test_compound_groupings_are_named_with_plus() -> None:
    """A tuple grouping's table is also reachable by its name, ``"tier+week"``."""
    report = metrics_report([TicketFacts("a", 0, 1, "open", tier="gold")], [("tier", "week")])
    assert [("gold", "1970-W01")] == [row.key for row in report.table("tier+week")]


def test_hour_week_and_month_labels() -> None:
    """Hours carry their UTC offset (fall-back hours stay apart); weeks are ISO weeks."""
    first = int(datetime(2025, 11, 2, 5, 30, tzinfo=UTC).timestamp())  # 01:30 EDT
    facts = [TicketFacts("a", first, first, "open"), TicketFacts("b", first + H, first + H, "open")]
    labels = [
        [r.key[0] for r in metrics_report(facts, [p], tz="America/New_York").table(p)]
        for p in ("hour", "week", "month")
    ]
    assert [
        ["2025-11-02T01:00-04:00", "2025-11-02T01:00-05:00"],
        ["2025-W44"],
        ["2025-11"],
    ] == labels


# --- goals and reports -------------------------------------------------------------------------


def _weekly(values: list[int]) -> list[TicketFacts]:
    return [
        TicketFacts(
            f"w{i}",
            i * 7 * 86400,
            (i + 1) * 7 * 86400,
            "open",
            tier="enterprise",
            first_reply_business=v,
        )
        for i, v in enumerate(values)
    ]


def test_goal_reports_value_target_attainment_and_trend() -> None:
    """A weekly goal shows the latest value, met or not, the share of weeks met and the trend."""
    goal = Goal(
        "first_reply_business.median", H, grouping="tier", group="enterprise", period="week"
    )
    report = metrics_report(_weekly([1800, 7200, 3000]), goals=[goal], exact=True)
    result = report.goals[0]
    trend = (("1970-W01", 1800.0), ("1970-W02", 7200.0), ("1970-W03", 3000.0))
    assert (3000.0, True, 2 / 3, trend, -4200.0) == (
        result.value,
        result.met,
        result.attainment,
        result.trend,
        result.change,
    )


def test_goal_without_period_judges_the_whole_group() -> None:
    """Without a period, attainment is 1.0 if the goal is met and 0.0 otherwise."""
    facts = [_solved("a", 1), _solved("b", 2)]
    goal = Goal("one_touch_rate", 0.8, direction=">=")
    result = metrics_report(facts, goals=[goal]).goals[0]
    assert (0.5, False, 0.0) == (result.value, result.met, result.attainment)


def test_a_goal_on_a_grouping_must_name_its_group() -> None:
    """A goal on the channel grouping without ``group`` is refused: it could never be judged."""
    with pytest.raises(ConfigurationError, match="needs group="):
        Goal("csat", 0.9, grouping="channel")


def test_a_goal_whose_group_has_no_row_says_so() -> None:
    """A goal whose group is absent from the report is marked not found, with no value."""
    goal = Goal("csat", 0.9, direction=">=", grouping="channel", group="phone")
    result = metrics_report([_solved("a", 1)], goals=[goal]).goals[0]
    assert (False, None, None, None, False) == (
        result.found,
        result.value,
        result.met,
        result.attainment,
        result.to_dict()["found"],
    )


def test_report_renders_to_json_and_pandas() -> None:
    """A report is plain data: JSON round-trips and a grouping becomes a DataFrame row per group."""
    pd = pytest.importorskip("pandas")
    report = metrics_report([TicketFacts("a", 0, 1, "open", tier="gold")], ["tier"])
    data = json.loads(report.to_json())
    frame = report.to_pandas("tier")
    assert isinstance(frame, pd.DataFrame)
    assert (["gold"], 1, 1) == (
        list(frame["tier"]),
        frame["incoming"].iloc[0],
        data["tables"]["tier"][0]["incoming"],
    )


def test_polars_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without polars, to_polars says which package to install."""
    import sys

    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ConfigurationError, match="pip install polars"):
        metrics_report([]).to_polars()


# --- aggregator behaviour and errors -----------------------------------------------------------


def test_aggregator_round_trips_through_dict_and_pickle() -> None:
    """The aggregator's state survives to_dict/from_dict and pickling unchanged."""
    import pickle

    agg = MetricsAggregator(["tier", ("channel", "day")], goals=[Goal("csat", 0.9, direction=">=")])
    agg.update([_solved("a", 1), Log("b", tier="gold").facts()])
    assert agg == MetricsAggregator.from_dict(json.loads(json.dumps(agg.to_dict())))
    assert agg == pickle.loads(pickle.dumps(agg))


def test_a_bad_fact_leaves_the_aggregator_unchanged() -> None:
    """A chunk with a bad fact in it is refused whole: nothing of it is applied."""
    agg = MetricsAggregator(["tier"]).update([_solved("a", 1)])
    before = agg.to_dict()
    with pytest.raises(ConfigurationError, match="takes TicketFacts"):
        agg.update([_solved("b", 1), "not a fact"])  # type: ignore[list-item]
    assert before == agg.to_dict()


def test_merging_a_mismatched_aggregator_changes_nothing() -> None:
    """Merging aggregators with different groupings raises and leaves the target as it was."""
    agg = MetricsAggregator(["tier"]).update([_solved("a", 1)])
    before = agg.to_dict()
    with pytest.raises(ConfigurationError, match="different groupings"):
        agg.merge(MetricsAggregator(["channel"]).update([_solved("b", 1)]))
    assert before == agg.to_dict()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MetricsAggregator(["colour"]), "unknown grouping 'colour'"),
        (lambda: MetricsAggregator([("day", "week")]), "at most one period"),
        (lambda: MetricsAggregator(tz="Mars/Olympus"), "unknown time zone"),
        (lambda: Goal("csat", 0.9, direction="about"), "direction"),
        (lambda: Goal("speed", 1), "unknown metric"),
        (lambda: TicketFacts("a", 0, 1, "open", first_reply=-5), "first_reply"),
        (lambda: TicketFacts("a", 0, 1, "open", solved_at=3), "solved_at is set"),
        (lambda: TicketFacts("a", 0, 1, "solved"), "needs solved_at"),
        (lambda: MetricsAggregator().update([{"ticket_id": "a"}]), "takes TicketFacts"),  # type: ignore[list-item]
        (lambda: TicketFacts("a", 0, 1, "done"), "status 'done'"),
        (lambda: TicketFacts("a", 1.5, 2, "open"), "created_at must be whole"),
        (lambda: TicketFacts("a", 0, "2", "open"), "as_of must be whole"),
        (lambda: TicketFacts("a", 5, 1, "open"), "as_of .* is before created_at"),
        (lambda: TicketFacts("a", 0, 1, "open", tags="vip"), "tags must be"),
        (lambda: TicketFacts("a", 0, 1, "open", escalations=3), "escalations must be"),
        (lambda: TicketFacts("a", 0, 1, "open", sla=[("x",)]), "sla must be"),
        (lambda: TicketFacts("a", 0, 1, "open", agent_replies="x"), "agent_replies must be"),
        (lambda: TicketFacts("a", 0, 1, "open", next_reply=None), "next_reply and next_reply_"),
        (lambda: TicketFacts("a", 0, 1, "open", channel={"x": 1}), "channel must be a string,"),
        (lambda: TicketFacts("a", 0, 1, "open", agent=["ann"]), "agent must be a string or None"),
        (lambda: TicketFacts(None, 0, 1, "open"), "ticket_id must be a string,"),  # type: ignore[arg-type]
        (lambda: TicketFacts("a", 0, 1, "open", next_reply_business=5), "must be sequences"),
        (lambda: MetricsAggregator([3]), "grouping 3"),  # type: ignore[list-item]
        (lambda: MetricsAggregator(["tier", "tier"]), "more than once"),
        (lambda: Goal("csat", float("nan")), "finite number"),
    ],
)
def test_bad_configuration_is_a_clear_error(make: Any, message: str) -> None:
    """Bad groupings, zones, goals and facts raise ConfigurationError saying what is wrong."""
    with pytest.raises(ConfigurationError, match=message):
        make()


def test_a_single_grouping_name_is_one_grouping() -> None:
    """``MetricsAggregator("tier")`` keeps the tier grouping (not one per letter)."""
    assert ("tier",) == MetricsAggregator("tier").groupings


def test_a_missing_row_is_a_supportkit_error_and_a_key_error() -> None:
    """``report.row`` of an absent group raises an error that is both a SupportkitError and a
    KeyError, naming the key."""
    from supportkit import SupportkitError

    report = metrics_report([_solved("a", 1)], ["tier"])
    with pytest.raises(SupportkitError, match="no row \\('zzz',\\) in grouping 'tier'") as info:
        report.row("tier", "zzz")
    assert isinstance(info.value, KeyError)


def test_vectorised_path_refuses_missing_columns_before_changing_anything() -> None:
    """update_columns names the missing columns and leaves the aggregator untouched."""
    from supportkit import facts_to_columns

    agg = MetricsAggregator(["tier"]).update([_solved("a", 1)])
    before = agg.to_dict()
    columns = facts_to_columns([_solved("b", 1)])
    del columns["tier.codes"], columns["csat"]
    with pytest.raises(ConfigurationError, match=r"missing column.*csat.*tier\.codes"):
        agg.update_columns(columns)
    assert before == agg.to_dict()


def test_ticket_facts_round_trip_through_dict() -> None:
    """TicketFacts.to_dict/from_dict keep every public field."""
    facts = (
        Log(tier="gold", tags=["x"])
        .customer(0)
        .agent(5)
        .customer(6)
        .agent(9)
        .status(10, "solved")
        .facts()
    )
    assert facts == TicketFacts.from_dict(json.loads(json.dumps(facts.to_dict())))


def test_session_and_presence_events_round_trip_and_check_fields() -> None:
    """Session and presence events serialise like ticket events and name a bad field."""
    session = SessionEvent("article_viewed", session_id="s", at=T0, data={"article": "kb-1"})
    presence = PresenceEvent("ann", at=T0, state=PresenceState.BUSY)
    assert session == SessionEvent.from_dict(json.loads(json.dumps(session.to_dict())))
    assert presence == PresenceEvent.from_dict(json.loads(json.dumps(presence.to_dict())))
    with pytest.raises(EventError, match="unknown session event kind"):
        SessionEvent.from_dict({**session.to_dict(), "kind": "clicked"})
    with pytest.raises(EventError, match="presence state"):
        PresenceEvent.from_dict({**presence.to_dict(), "state": "napping"})


def test_facts_follow_the_ticket_fold_on_closed_tickets() -> None:
    """Facts validate logs with the ticket fold itself: a message on a closed ticket is refused
    exactly as ``Ticket.from_events`` refuses it."""
    log = [
        TicketEvent("created", ticket_id="T-1", at=T0, by="customer"),
        TicketEvent("status_changed", ticket_id="T-1", at=T0, data={"to": "solved"}),
        TicketEvent("status_changed", ticket_id="T-1", at=T0, data={"to": "closed"}),
        TicketEvent("message", ticket_id="T-1", at=T0, by="customer"),
    ]
    with pytest.raises(TicketStateError, match="closed is final"):
        TicketFacts.from_events(log)
