"""Staffing from the desk's own history: the handling time measured from the log, the goal taken
from a configured Goal or from each ticket's own first-reply target (a mix of targets in one
queue), and how many more agents a proposed, tighter target would need."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    BusinessCalendar,
    ConfigurationError,
    FrozenClock,
    Goal,
    InboundMessage,
    InMemoryStore,
    SlaConfig,
    SlaPolicy,
    SqliteStore,
    SupportDesk,
    Tier,
    backlog_agents,
    handling_time,
    staffing,
    staffing_plan,
)
from supportkit._cli import main

START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
END = START + timedelta(weeks=1)


def policy(name: str, minutes: int, **kwargs: object) -> SlaPolicy:
    return SlaPolicy.from_dict(
        {
            "name": name,
            "targets": {
                p: {"first_reply": {"minutes": minutes, "business": False}}
                for p in ("low", "normal", "high", "urgent")
            },
            **kwargs,
        }
    )


STD = policy("std", 60)
GOLD = policy("gold", 15, conditions={"tier": ["gold"]})


def history(
    store: InMemoryStore | SqliteStore | None = None, desk: SupportDesk | None = None
) -> SupportDesk:
    """Monday 09:00-10:00 UTC: 24 tickets, every third from a gold customer; an agent takes
    each one 2 minutes after it arrives and answers 5 minutes after that."""
    clock = FrozenClock(START + timedelta(hours=9))
    if desk is None:
        desk = SupportDesk(
            store=store or InMemoryStore(),
            clock=clock,
            plugins=None,
            policies=[GOLD, STD],
            tiers=[Tier("gold", weight=10, watchlist=[f"c{n}@x" for n in range(0, 24, 3)])],
        )
    else:
        desk.clock = clock
    for n in range(24):
        clock.set(START + timedelta(hours=9, minutes=2.5 * n))
        opened = desk.ingest(InboundMessage(f"m-{n}", "email", f"c{n}@x", clock.now()))
        clock.advance(minutes=2)
        desk.assign(opened.ticket_id, "ann")
        clock.advance(minutes=5)
        desk.reply(opened.ticket_id, "hello", agent="ann")
    return desk


def test_handling_time_is_measured_from_assignment_to_reply() -> None:
    desk = history()
    assert 300.0 == handling_time(desk.store, start=START, end=END)
    with pytest.raises(ConfigurationError, match="no ticket created in the window"):
        handling_time(desk.store, start=END, end=END + timedelta(days=1))


def test_a_plan_without_aht_uses_the_measured_one() -> None:
    store = history().store
    measured = staffing_plan(store, start=START, end=END, target=0.8, within=60)
    given_ = staffing_plan(store, start=START, end=END, aht=300, target=0.8, within=60)
    assert 300.0 == measured.aht
    assert measured.rows == given_.rows


def test_a_percentile_goal_is_a_target_and_a_limit() -> None:
    """ "Median first reply at most 10 minutes for the gold tier" is 0.5 within 600 s over
    gold's tickets only (8 of the 24)."""
    store = history().store
    goal = Goal("first_reply.median", 600, grouping="tier", group="gold", period="week")
    plan = staffing_plan(store, start=START, end=END, aht=300, goal=goal)
    [busy] = [r for r in plan.rows if r.arrivals]
    assert (plan.target, plan.within, busy.arrivals) == (0.5, 600, 8.0)
    assert "50% of tier=gold contacts answered within 600 s" in plan.summary
    assert staffing.agents_needed(8 / 3600, 300, 0.5, 600) == busy.required
    p90 = staffing_plan(store, start=START, end=END, aht=300, goal=Goal("first_reply.p90", 60))
    assert (0.9, 60) == (p90.target, p90.within)


@pytest.mark.parametrize(
    ("goal", "message"),
    [
        (Goal("csat", 0.9, direction="at_least"), "meets a first-reply goal"),
        (Goal("first_reply.median", 60, direction="at_least"), "meets a first-reply goal"),
        (Goal("sla.first_reply.attainment", 0.9, direction="at_least"), "needs sla="),
        (
            Goal("first_reply.median", 60, grouping=("tier", "channel"), group=("a", "b")),
            "one tier",
        ),
    ],
)
def test_goals_a_plan_cannot_meet_are_named(goal: Goal, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        staffing_plan(history().store, start=START, end=END, aht=300, goal=goal)


def test_each_ticket_within_its_own_target() -> None:
    """With sla=, gold tickets must be answered within 15 minutes and the others within 60:
    the requirement is Erlang C for that mix, between the two single-target answers."""
    store = history().store
    plan = staffing_plan(
        store, start=START, end=END, aht=300, target=0.9, sla=SlaConfig([GOLD, STD])
    )
    [busy] = [r for r in plan.rows if r.arrivals]
    rate = 24 / 3600
    assert staffing.agents_needed(rate, 300, 0.9, {900: 8, 3600: 16}) == busy.required
    assert (
        staffing.agents_needed(rate, 300, 0.9, 3600)
        <= busy.required
        <= staffing.agents_needed(rate, 300, 0.9, 900)
    )
    # One policy for everyone is the single-target plan.
    same = staffing_plan(store, start=START, end=END, aht=300, target=0.9, sla=SlaConfig([STD]))
    single = staffing_plan(store, start=START, end=END, aht=300, target=0.9, within=3600)
    assert [r.required for r in same.rows] == [r.required for r in single.rows]
    assert same.within is None
    assert "their SLA's first-reply target" in same.to_text()


def test_a_tighter_proposed_target_needs_more_agents() -> None:
    store = history().store
    common = {"start": START, "end": END, "aht": 900, "target": 0.95}
    now = staffing_plan(store, sla=SlaConfig([GOLD, STD]), **common)  # type: ignore[arg-type]
    tighter = staffing_plan(
        store, sla=SlaConfig([policy("gold", 1, conditions={"tier": ["gold"]}), STD]), **common
    )  # type: ignore[arg-type]
    assert tighter.agent_hours > now.agent_hours


@given(
    st.floats(0.0001, 0.05),
    st.floats(10, 1800),
    st.integers(1, 60),
    st.dictionaries(st.floats(1, 7200), st.floats(0.1, 10), min_size=1, max_size=4),
)
def test_a_mix_is_the_weighted_service_level(
    rate: float, aht: float, agents: int, mix: dict[float, float]
) -> None:
    """FCFS: every contact sees the same wait, so the mix's service level is the weighted mean
    of the single-target ones."""
    total = sum(mix.values())
    expected = sum(w / total * staffing.service_level(rate, aht, agents, t) for t, w in mix.items())
    assert math.isclose(expected, staffing.service_level(rate, aht, agents, mix), abs_tol=1e-12)
    unlimited = {**mix, math.inf: total}  # half the contacts without a limit
    assert (
        staffing.service_level(rate, aht, agents, unlimited)
        >= staffing.service_level(rate, aht, agents, mix) - 1e-12
    )


@pytest.mark.parametrize("mix", [{}, {60: 0}, {-1: 1}, {60: -1}, {"a": 1}, {60: float("nan")}])
def test_bad_mixes_are_refused(mix: dict[object, object]) -> None:
    with pytest.raises(ConfigurationError, match="within"):
        staffing.agents_needed(0.01, 300, 0.8, mix)  # type: ignore[arg-type]


def test_whatif_command_compares_the_agents_needed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "desk.sqlite3"
    history(SqliteStore(db))
    proposed = tmp_path / "proposed.toml"
    proposed.write_text(
        """
[[policies]]
name = "gold"
conditions = { tier = ["gold"] }
targets.normal.first_reply = { minutes = 1, business = false }
[[policies]]
name = "std"
targets.normal.first_reply = { minutes = 60, business = false }
""",
        encoding="utf-8",
    )
    args = ["whatif", "--config", str(proposed), "--db", str(db), "--since", "2025-03-03",
            "--until", "2025-03-10", "--staffing-target", "0.95", "--aht", "900"]  # fmt: skip
    assert 0 == main([*args, "--json"])
    staffing_ = json.loads(capsys.readouterr().out)["staffing"]
    assert staffing_["proposed"] > staffing_["actual"]
    assert staffing_["more"] == staffing_["proposed"] - staffing_["actual"]
    assert 0 == main(args)
    assert "agent-hours a week" in capsys.readouterr().out.lower()


def test_staffing_command_takes_a_configured_goal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "supportkit.toml"
    db = tmp_path / "desk.sqlite3"
    config.write_text(
        f"""
[store]
kind = "sqlite"
path = "{db}"
[[goals]]
name = "quick"
metric = "first_reply.p90"
target = 600
""",
        encoding="utf-8",
    )
    with SupportDesk.from_config(config) as desk:
        history(desk=desk)
    args = ["staffing", "--config", str(config), "--since", "2025-03-03", "--until", "2025-03-10"]
    assert 0 == main([*args, "--goal", "quick"])
    out = capsys.readouterr().out
    assert "90% of contacts answered within 600 s (handling time 300 s" in out
    assert 1 == main([*args, "--goal", "nope"])
    assert "no goal of that name" in capsys.readouterr().err


# -- the backlog model (email) -------------------------------------------------------------

OFFICE = BusinessCalendar("UTC", {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")})


def test_backlog_one_hour_of_work_needs_one_agent() -> None:
    """Ten contacts at 00:00, each due within an hour; an agent answers ten an hour."""
    assert [1] == backlog_agents([(0, 3600, 10)], [0, 3600], 360)
    assert [2] == backlog_agents([(0, 1800, 10)], [0, 3600], 360)  # due in half the time
    assert [1] == backlog_agents([(0, 3600, 10)], [0, 3600], 360, target=0.5, max_occupancy=0.5)
    with pytest.raises(ConfigurationError, match="within"):
        backlog_agents([(0, 0, 10)], [0, 3600], 360)
    with pytest.raises(ConfigurationError, match="increasing"):
        backlog_agents([(0, 60, 10)], [3600, 0], 360)


def test_backlog_carries_over_the_night() -> None:
    """Eight e-mails at Monday 20:00 with one business hour to answer: nobody at night,
    one agent at Tuesday 09:00 (an agent answers eight an hour)."""
    monday = int(START.timestamp())
    slots = [monday + h * 3600 for h in range(37)]  # Monday 00:00 to Tuesday 12:00
    needs = backlog_agents([(monday + 20 * 3600, 3600, 8)], slots, 450, hours=OFFICE)
    assert {33: 1} == {k: n for k, n in enumerate(needs) if n}  # Tuesday 09:00


def test_backlog_work_is_spread_over_the_time_to_its_deadline() -> None:
    """Eight contacts due within two hours, four an agent-hour: one agent in each hour (level),
    not none then two."""
    assert [1, 1] == backlog_agents([(0, 7200, 8)], [0, 3600, 7200], 900)
    assert [0, 0] == backlog_agents([(0, math.inf, 8)], [0, 3600, 7200], 900)


def test_a_backlog_plan_staffs_the_opening_hours() -> None:
    """E-mails arriving at night under the Erlang model need agents at night; under the
    backlog model with office hours they are answered when the office opens."""
    clock = FrozenClock(START + timedelta(hours=2))  # Monday 02:00 UTC
    desk = SupportDesk(store=InMemoryStore(), clock=clock, plugins=None)
    for n in range(6):
        desk.ingest(InboundMessage(f"m-{n}", "email", f"c{n}@x", clock.now()))
    common = {"start": START, "end": END, "aht": 600, "target": 0.9, "within": 3600}
    erlang = staffing_plan(desk.store, **common)  # type: ignore[arg-type]
    backlog = staffing_plan(desk.store, model="backlog", hours=OFFICE, **common)  # type: ignore[arg-type]
    assert [("mon", 2)] == [(r.weekday, r.hour) for r in erlang.rows if r.required]
    assert [("mon", 9)] == [(r.weekday, r.hour) for r in backlog.rows if r.required]
    assert 1 == backlog.rows[9].required  # six e-mails of 10 minutes, 90 %, in one hour


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"model": "queue"}, "model must be"), ({"model": "backlog", "hours": 5}, "hours must be")],
)
def test_bad_backlog_options_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        staffing_plan(
            history().store, start=START, end=END, aht=300, target=0.8, within=60, **kwargs
        )  # type: ignore[arg-type]
