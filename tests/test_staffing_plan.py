"""staffing_plan from a desk's history: arrival rates per local hour of the week, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from supportkit import (
    BusinessCalendar,
    ConfigurationError,
    FrozenClock,
    InboundMessage,
    InMemoryStore,
    SupportDesk,
    staffing,
    staffing_plan,
)

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2025, 3, 3, tzinfo=BERLIN)  # Monday 00:00
END = START + timedelta(weeks=2)


@pytest.fixture
def store() -> InMemoryStore:
    """Two weeks: 30 tickets every Monday 10:00-11:00 and 6 every Tuesday 15:00-16:00 Berlin."""
    clock = FrozenClock(START)
    desk = SupportDesk(store=InMemoryStore(), clock=clock, plugins=None)
    n = 0
    for week in range(2):
        for day, hour, count in ((0, 10, 30), (1, 15, 6)):
            base = START + timedelta(weeks=week, days=day, hours=hour)
            for i in range(count):
                clock.set(base + timedelta(seconds=i * 3600 // count))
                desk.ingest(InboundMessage(f"m-{n}", "chat", f"v{n}@x", clock.now()))
                n += 1
    return desk.store  # type: ignore[return-value]


def test_rates_and_requirements_per_hour(store: InMemoryStore) -> None:
    """Monday 10:00 has 30 arrivals an hour, Tuesday 15:00 six, and the agents required are
    Erlang C's for those rates; every other hour needs nobody."""
    plan = staffing_plan(store, start=START, end=END, aht=300, target=0.8, within=60,
                         tz="Europe/Berlin")  # fmt: skip
    rows = {(r.weekday, r.hour): r for r in plan.rows}
    assert 168 == len(plan.rows)
    assert (30.0, 6.0) == (rows["mon", 10].arrivals, rows["tue", 15].arrivals)
    assert staffing.agents_needed(30 / 3600, 300, 0.8, 60) == rows["mon", 10].required
    assert staffing.agents_needed(6 / 3600, 300, 0.8, 60) == rows["tue", 15].required
    assert {("mon", 10), ("tue", 15)} == {k for k, r in rows.items() if r.required}
    assert all(r.scheduled is None for r in plan.rows)


def test_shifts_give_scheduled_agents_and_the_gaps(store: InMemoryStore) -> None:
    """Two agents on Monday 09-17 and none on Tuesday: Monday 10:00 (2.5 Erlangs) and Tuesday
    15:00 are understaffed, and Monday's hours without arrivals are overstaffed by two."""
    shift = BusinessCalendar("Europe/Berlin", {"mon": ["09:00-17:00"]})
    plan = staffing_plan(
        store, start=START, end=END, aht=300, target=0.8, within=60, tz=BERLIN,
        shifts={"ann": ("chat", shift), "bob": ("chat", shift)}, shrinkage=0.25,
    )  # fmt: skip
    rows = {(r.weekday, r.hour): r for r in plan.rows}
    assert 2.0 == rows["mon", 9].scheduled
    assert 0.0 == rows["tue", 15].scheduled
    assert [("mon", 10), ("tue", 15)] == [(r.weekday, r.hour) for r in plan.understaffed]
    assert 7 == len(plan.overstaffed)
    assert -2.0 == rows["mon", 9].shortfall
    assert staffing.with_shrinkage(staffing.agents_needed(30 / 3600, 300, 0.8, 60), 0.25) == (
        rows["mon", 10].required
    )
    assert "mon 10:00" in plan.to_text()


def test_a_partial_week_counts_each_hour_by_its_occurrences(store: InMemoryStore) -> None:
    """A window of 8 days holds two Monday 10:00s but one Tuesday 15:00."""
    plan = staffing_plan(store, start=START, end=START + timedelta(days=8), aht=300,
                         target=0.8, within=60, tz=BERLIN)  # fmt: skip
    rows = {(r.weekday, r.hour): r for r in plan.rows}
    assert (30.0, 6.0) == (rows["mon", 10].arrivals, rows["tue", 15].arrivals)


@pytest.mark.parametrize(
    "kwargs",
    [{"aht": 0}, {"target": 2}, {"within": -1}, {"end": START}, {"shrinkage": 1}],
)
def test_bad_input_is_refused(store: InMemoryStore, kwargs: dict) -> None:
    """Non-positive handling time, targets outside (0, 1], negative waits, empty windows and
    full shrinkage are ConfigurationErrors."""
    args = {"start": START, "end": END, "aht": 300, "target": 0.8, "within": 60, **kwargs}
    with pytest.raises(ConfigurationError):
        staffing_plan(store, **args)


def test_the_plan_is_in_utc_by_default(store: InMemoryStore) -> None:
    """Without tz the hours are UTC hours: Monday 10:00 Berlin (CET) is 09:00 UTC."""
    plan = staffing_plan(store, start=START, end=END, aht=300, target=0.8, within=60)
    rows = {(r.weekday, r.hour): r for r in plan.rows}
    assert 30.0 == rows["mon", 9].arrivals
    assert datetime(2025, 3, 3, 9, tzinfo=UTC) == START.replace(hour=10).astimezone(UTC)
