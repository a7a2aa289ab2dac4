"""What-if replays against a direct evaluation of the same tickets under each configuration."""

from __future__ import annotations

import pickle
import random
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from supportkit import (
    BusinessCalendar,
    ConfigurationError,
    Customer,
    FrozenClock,
    Goal,
    InboundMessage,
    SlaConfig,
    SlaPolicy,
    SqliteStore,
    SupportDesk,
    Tier,
    WhatIfTally,
    evaluate_sla,
    whatif,
)
from supportkit.testing import FakeCrm

START = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)  # a Monday
END = START + timedelta(days=10)
HOURS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
LONGER = {d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def policy(name: str, minutes: int, tier: str | None = None) -> SlaPolicy:
    targets = {
        "first_reply": {"minutes": minutes, "business": True},
        "total_resolution": {"hours": 40, "business": True},
    }
    raw: dict = {
        "name": name,
        "targets": dict.fromkeys(("low", "normal", "high", "urgent"), targets),
    }
    if tier is not None:
        raw["conditions"] = {"tier": [tier]}
    return SlaPolicy.from_dict(raw)


ACTUAL = SlaConfig(
    [policy("enterprise", 60, "enterprise"), policy("standard", 240)],
    {"default": BusinessCalendar("Europe/Berlin", HOURS)},
)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> SqliteStore:
    """A desk's real SQLite file: 150 tickets of two tiers, most answered after a while."""
    rng = random.Random(3)
    clock = FrozenClock(START)
    crm = FakeCrm(
        {"ada@big.example": Customer("ada", tier="enterprise")},
        {"enterprise": Tier("enterprise", weight=10)},
    )
    path = tmp_path_factory.mktemp("whatif") / "desk.db"
    desk = SupportDesk(
        store=SqliteStore(path),
        clock=clock,
        policies=list(ACTUAL.policies),
        calendars=ACTUAL.calendars,
        plugins=[crm],
    )
    open_tickets: list[tuple[datetime, str]] = []
    for i in range(150):
        clock.advance(minutes=rng.randint(5, 80))
        for due, ticket_id in sorted(t for t in open_tickets if t[0] <= clock.now()):
            desk.reply(ticket_id, "on it", agent="ann")
            open_tickets.remove((due, ticket_id))
        sender = rng.choice(["ada@big.example", "bob@small.example"])
        result = desk.ingest(InboundMessage(f"m-{i}", "email", sender, clock.now()))
        if rng.random() < 0.85:
            delay = timedelta(minutes=rng.randint(1, 400))
            open_tickets.append((clock.now() + delay, result.ticket_id))
    return desk.store  # type: ignore[return-value]


def direct(store: SqliteStore, config: SlaConfig, *, by_name: bool) -> Counter:
    """Judged cycles per (tier, metric, status): each log evaluated with evaluate_sla under the
    policy of the applied name (*by_name*) or the first the ticket's tier matches."""
    counts: Counter = Counter()
    for tid in store.ticket_ids():
        events = store.read(tid)
        tier = events[0].data["tier"]
        applied = next(e for e in events if e.kind == "sla_policy_applied").data["policy"]
        if by_name:
            chosen = next(p for p in config.policies if p.name == applied)
        else:
            chosen = next(p for p in config.policies if tier in p.conditions.get("tier", {tier}))
        log = [e for e in events if e.kind != "sla_policy_applied"]
        evaluation = evaluate_sla(log, chosen, at=END, calendar=config.calendar(chosen))
        for metric, cycles in evaluation.items():
            for cycle in cycles:
                if cycle.status.value in ("met", "breached"):
                    counts[tier, metric, cycle.status.value] += 1
    return counts


def side(result: Mapping) -> Counter:  # type: ignore[type-arg]
    counts: Counter = Counter()
    for (grouping, group), metrics in result.items():
        if grouping == "tier":
            for metric, (met, breached) in metrics.items():
                counts[group, metric, "met"] += met
                counts[group, metric, "breached"] += breached
    return +counts


def test_actual_side_equals_direct_evaluation(history: SqliteStore) -> None:
    """The actual side, read from the configuration the desk recorded in its store, counts
    the same met and breached cycles per tier as evaluating each log directly."""
    result = whatif(history, start=START, end=END)
    assert 150 == result.tickets
    assert direct(history, ACTUAL, by_name=True) == side(result.actual)
    assert result.actual == result.proposed  # proposing what ran changes nothing


def test_tighter_enterprise_target_and_longer_hours(history: SqliteStore) -> None:
    """Enterprise first reply 30 minutes instead of 60, hours 8-18 instead of 9-17: the
    proposed side equals a direct evaluation under that configuration, and it differs."""
    proposed = SlaConfig(
        [policy("enterprise", 30, "enterprise"), policy("standard", 240)],
        {"default": BusinessCalendar("Europe/Berlin", LONGER)},
    )
    result = whatif(
        history,
        policies=proposed.policies,
        calendars=proposed.calendars,
        start=START,
        end=END,
        actual=ACTUAL,
    )
    expected = direct(history, proposed, by_name=True)
    assert expected == side(result.proposed)
    assert side(result.actual) != side(result.proposed)
    row = next(
        r for r in result.rows() if (r["group"], r["metric"]) == ("enterprise", "first_reply")
    )
    assert row["proposed_breaches"] == expected["enterprise", "first_reply", "breached"]


def test_renamed_policies_are_selected_by_conditions(history: SqliteStore) -> None:
    """Proposed policies with new names: each ticket gets the first one it matches."""
    proposed = SlaConfig([policy("vip", 45, "enterprise"), policy("base", 120)], ACTUAL.calendars)
    result = whatif(
        history,
        policies=proposed.policies,
        calendars=proposed.calendars,
        start=START,
        end=END,
        actual=ACTUAL,
    )
    assert direct(history, proposed, by_name=False) == side(result.proposed)


def test_shards_merge_to_the_whole(history: SqliteStore) -> None:
    """Two tallies over halves of the history merge into the tally of all of it."""
    proposed = SlaConfig([policy("enterprise", 30, "enterprise"), policy("standard", 120)])
    ids = history.ticket_ids()

    def tally(subset: list[str]) -> WhatIfTally:
        return WhatIfTally(ACTUAL, proposed, START, END).update(history.read(t) for t in subset)

    whole = tally(ids).result()
    merged = tally(ids[::2]).merge(tally(ids[1::2])).result()
    assert whole == merged


def test_window_and_nothing_written(history: SqliteStore) -> None:
    """Only tickets created in [start, end) count, and the store is unchanged afterwards."""
    before = [e.to_dict() for e in history.read_all()]
    first_day = whatif(
        history, policies=ACTUAL.policies, start=START, end=START + timedelta(days=1), actual=ACTUAL
    )
    created = [history.read(t)[0].at for t in history.ticket_ids()]
    assert sum(START <= c < START + timedelta(days=1) for c in created) == first_day.tickets
    assert before == [e.to_dict() for e in history.read_all()]


def test_goals_are_judged_on_both_sides(history: SqliteStore) -> None:
    """An enterprise first-reply attainment goal of 90 %: value and met on each side."""
    goal = Goal(
        "sla.first_reply.attainment", 0.9, direction="at_least", grouping="tier", group="enterprise"
    )
    proposed = [policy("enterprise", 600, "enterprise"), policy("standard", 240)]
    result = whatif(history, policies=proposed, start=START, end=END, actual=ACTUAL, goals=[goal])
    [row] = result.goal_results()
    counts = side(result.proposed)
    met = counts["enterprise", "first_reply", "met"]
    value = met / (met + counts["enterprise", "first_reply", "breached"])
    assert (value, value >= 0.9) == (row["proposed_value"], row["proposed_met"])
    assert row["proposed_value"] > row["actual_value"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"policies": ["std"]},
        {"calendars": {"default": "Europe/Berlin"}},
        {"groupings": ["colour"]},
        {"goals": [Goal("first_reply.median", 60)]},
        {"end": START - timedelta(days=1)},
    ],
)
def test_bad_input_is_a_configuration_error(history: SqliteStore, kwargs: dict) -> None:
    """Wrong types, unknown groupings, non-SLA goals and an empty window are refused."""
    with pytest.raises(ConfigurationError):
        whatif(history, start=START, **{"end": END, **kwargs})


def test_tallies_pickle_and_fold_on_dask(history: SqliteStore) -> None:
    """Shards tallied by dask.bag tasks (each opening the SQLite file itself) and folded with
    merge give the one-pass result; a tally survives pickling, as between Dask workers."""
    bag = pytest.importorskip("dask.bag")
    path = str(history.path)
    ids = history.ticket_ids()

    def tally(part: list[str]) -> list[WhatIfTally]:
        store = SqliteStore(path)
        try:
            return [WhatIfTally(ACTUAL, ACTUAL, START, END).update(store.read(t) for t in part)]
        finally:
            store.close()

    shards = bag.from_sequence(ids, npartitions=4).map_partitions(tally)
    folded = shards.fold(lambda a, b: a.merge(b), split_every=2).compute(scheduler="threads")
    one_pass = WhatIfTally(ACTUAL, ACTUAL, START, END).update(history.read(t) for t in ids)
    assert one_pass.result() == folded.result()
    assert one_pass.result() == pickle.loads(pickle.dumps(one_pass)).result()
