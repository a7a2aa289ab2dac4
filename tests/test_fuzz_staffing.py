"""Fuzz the coverage, staffing and what-if entry points: only SupportkitError escapes, and
what-if and the staffing plan never change the store they read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import strategies as st

from fuzzkit import Target, instants, integers, junk, kwargs_of, run, text
from supportkit import (
    BusinessCalendar,
    FollowTheSun,
    FrozenClock,
    Goal,
    InboundMessage,
    InMemoryStore,
    SlaConfig,
    SlaPolicy,
    SupportDesk,
    WhatIfTally,
    backlog_agents,
    coverage,
    handling_time,
    staffing,
    staffing_plan,
    whatif,
)

CAL = BusinessCalendar("Europe/Berlin", {"mon": ["09:00-17:00"], "tue": ["20:00-04:00"]})
NY = BusinessCalendar("America/New_York", {"mon": ["09:00-17:00"]})
RATES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), integers(), st.timedeltas())
POLICY = SlaPolicy.from_dict(
    {"name": "std", "targets": {"normal": {"first_reply": {"hours": 1, "business": True}}}}
)


def _history() -> InMemoryStore:
    clock = FrozenClock(datetime(2025, 3, 3, 9, tzinfo=UTC))
    desk = SupportDesk(store=InMemoryStore(), clock=clock, plugins=None, policies=[POLICY],
                       calendars=CAL)  # fmt: skip
    for n in range(3):
        opened = desk.ingest(InboundMessage(f"m-{n}", "chat", f"v{n}@x", clock.now()))
        clock.advance(minutes=40)
        desk.reply(opened.ticket_id, "hi", agent="ann")
    return desk.store  # type: ignore[return-value]


STORE = _history()


def _contents(_kw: Any) -> object:
    return [e.to_dict() for e in STORE.read_all()]


CALENDARS = st.one_of(st.just(CAL), st.just(NY), junk())
GOALS = st.builds(
    Goal,
    st.sampled_from(
        ["first_reply.median", "first_reply_business.p90", "sla.first_reply.attainment", "csat"]
    ),
    st.floats(0, 7200),
    direction=st.sampled_from(["at_most", "at_least"]),
)
TEAMS = st.one_of(st.dictionaries(text(), CALENDARS, max_size=3), junk())

TARGETS: dict[str, Target] = {
    "staffing.erlang_c": Target(
        kwargs_of({"traffic": RATES, "agents": integers()}), lambda kw: staffing.erlang_c(**kw)
    ),
    "staffing.agents_needed": Target(
        kwargs_of(
            {"arrival_rate": RATES, "aht": RATES, "target": RATES, "within": RATES},
            {"max_occupancy": RATES},
        ),
        lambda kw: staffing.agents_needed(**kw),
        examples=300,
    ),
    "staffing.service_level": Target(
        kwargs_of({"arrival_rate": RATES, "aht": RATES, "agents": integers(), "within": RATES}),
        lambda kw: staffing.service_level(**kw),
    ),
    "staffing.erlang_a": Target(
        kwargs_of(
            {
                "arrival_rate": st.floats(0, 0.2),
                "aht": RATES,
                "agents": st.integers(-1, 30),
                "patience": RATES,
            }
        ),
        lambda kw: staffing.erlang_a(**kw).service_level(20),
        examples=200,
    ),
    "staffing.with_shrinkage": Target(
        kwargs_of({"agents": integers(), "shrinkage": RATES}),
        lambda kw: staffing.with_shrinkage(**kw),
    ),
    "coverage": Target(
        kwargs_of(
            {"groups": TEAMS, "start": instants(), "end": instants()},
            {"shifts": st.dictionaries(text(), st.tuples(text(), CALENDARS), max_size=2)},
        ),
        lambda kw: coverage(kw.pop("groups"), kw.pop("start"), kw.pop("end"), **kw),
        examples=200,
    ),
    "BusinessCalendar.union": Target(
        st.tuples(st.lists(CALENDARS, max_size=3), instants(), st.timedeltas()),
        lambda a: CAL.union(*a[0]).add(a[1], a[2]),
        examples=200,
    ),
    "FollowTheSun": Target(TEAMS, lambda teams: FollowTheSun(teams).team_at(0)),
    "whatif": Target(
        kwargs_of(
            {"start": instants(), "end": instants()},
            {
                "policies": st.one_of(st.just([POLICY]), junk()),
                "calendars": junk(),
                "actual": st.one_of(st.just(SlaConfig([POLICY], {"default": CAL})), junk()),
                "groupings": junk(),
                "goals": junk(),
            },
        ),
        lambda kw: whatif(STORE, **kw),
        state=_contents,
        examples=200,
    ),
    "WhatIfTally.update": Target(
        st.lists(st.one_of(st.just(STORE.read(STORE.ticket_ids()[0])), junk()), max_size=3),
        lambda logs: WhatIfTally(
            SlaConfig([POLICY]),
            SlaConfig([POLICY]),
            datetime(2025, 1, 1, tzinfo=UTC),
            datetime(2026, 1, 1, tzinfo=UTC),
        ).update(logs),
        examples=200,
    ),
    "staffing_plan": Target(
        kwargs_of(
            {
                "start": instants(),
                "end": instants(),
                "aht": RATES,
                "target": RATES,
                "within": RATES,
            },
            {
                "tz": st.one_of(st.just("Europe/Berlin"), text()),
                "shrinkage": RATES,
                "shifts": st.dictionaries(text(), st.tuples(text(), CALENDARS), max_size=2),
                "goal": st.one_of(GOALS, junk()),
                "model": st.one_of(st.sampled_from(["erlang", "backlog"]), junk()),
                "hours": st.one_of(st.just(CAL), junk()),
                "sla": st.one_of(st.just(SlaConfig([POLICY], {"default": CAL})), junk()),
            },
        ),
        lambda kw: staffing_plan(STORE, **kw),
        state=_contents,
        examples=150,
    ),
    "backlog_agents": Target(
        kwargs_of(
            {
                "arrivals": st.one_of(
                    st.lists(st.tuples(integers(), RATES, RATES), max_size=4), junk()
                ),
                "slots": st.one_of(st.lists(integers(), max_size=4), junk()),
                "aht": RATES,
            },
            {"target": RATES, "hours": st.one_of(st.just(CAL), junk()), "concurrency": integers()},
        ),
        lambda kw: backlog_agents(**kw),
    ),
    "handling_time": Target(
        kwargs_of({"start": instants(), "end": instants()}),
        lambda kw: handling_time(STORE, **kw),
        state=_contents,
        examples=100,
    ),
    "staffing.agents_needed(mix)": Target(
        kwargs_of(
            {
                "arrival_rate": RATES,
                "aht": RATES,
                "target": RATES,
                "within": st.one_of(st.dictionaries(RATES, RATES, max_size=3), junk()),
            }
        ),
        lambda kw: staffing.agents_needed(**kw),
    ),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_supportkit_errors_escape(name: str) -> None:
    """Junk in, a typed error (or a result) out, for each entry point."""
    run(name, TARGETS[name])
