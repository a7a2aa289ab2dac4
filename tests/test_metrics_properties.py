"""Metrics invariants: merges equal one pass, the sketch keeps its error bound, the vectorised
path equals the streaming one, and the numbers agree with pandas on generated data."""

from __future__ import annotations

import itertools
import random
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import (
    ExactQuantiles,
    MetricsAggregator,
    QuantileSketch,
    TicketFacts,
    facts_to_columns,
)
from supportkit._sketch import ALPHA

DAY = 86400
GROUPINGS: list[Any] = ["all", "tier", ("channel", "day"), "tag", ("agent", "week")]
PLAIN_GROUPINGS: list[Any] = [
    "all",
    "tier",
    "priority",
    ("channel", "day"),
    ("agent", "month"),
    ("problem", "week"),
]


@st.composite
def ticket_facts(draw: st.DrawFn, ticket_id: int = 0) -> TicketFacts:
    """A plausible fact: durations, ratings, escalations and SLA counts, solved or not."""
    seconds = st.integers(0, 30 * DAY)
    maybe = st.none() | seconds
    created = draw(st.integers(0, 60 * DAY))
    solved = draw(st.booleans())
    return TicketFacts(
        ticket_id=str(ticket_id),
        created_at=created,
        as_of=created + draw(st.integers(0, 10 * DAY)),
        status="solved" if solved else draw(st.sampled_from(["new", "open", "pending", "on_hold"])),
        channel=draw(st.sampled_from(["email", "chat", "web"])),
        priority=draw(st.sampled_from(["low", "normal", "high"])),
        tier=draw(st.sampled_from([None, "free", "gold"])),
        agent=draw(st.sampled_from([None, "ann", "bob"])),
        problem=draw(st.sampled_from([None, "P-1", "P-2"])),
        tags=draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True)),
        solved_at=created + draw(st.integers(0, 5 * DAY)) if solved else None,
        first_reply=draw(maybe),
        first_reply_business=draw(maybe),
        next_reply=draw(st.lists(seconds, max_size=3)),
        next_reply_business=draw(st.lists(seconds, max_size=2)),
        full_resolution=draw(maybe) if solved else None,
        full_resolution_business=draw(maybe) if solved else None,
        requester_wait=draw(maybe) if solved else None,
        requester_wait_business=draw(maybe) if solved else None,
        agent_replies=draw(st.integers(0, 3)),
        reopens=draw(st.integers(0, 2)),
        ever_solved=solved or draw(st.booleans()),
        escalations=draw(
            st.lists(st.sampled_from(["L2", "L3", "engineering"]), max_size=2, unique=True)
        ),
        csat=draw(st.sampled_from([None, "good", "bad"])),
        nps=draw(st.none() | st.integers(0, 10)),
        ces=draw(st.none() | st.integers(1, 7)),
        sla=draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["first_reply", "next_reply"]),
                    st.integers(0, 2),
                    st.integers(0, 2),
                ),
                max_size=2,
            )
        ),
    )


facts_lists = st.lists(ticket_facts(), max_size=40)


@given(facts_lists, st.lists(st.integers(0, 40), max_size=4), st.randoms(use_true_random=False))
def test_merge_of_shards_equals_one_pass_in_any_order(
    facts: list[TicketFacts], cuts: list[int], rnd: random.Random
) -> None:
    """Aggregating shards separately and merging them, in any order, equals one pass."""
    bounds = sorted({0, len(facts), *(min(c, len(facts)) for c in cuts)})
    shards = [
        MetricsAggregator(GROUPINGS).update(facts[a:b]) for a, b in itertools.pairwise(bounds)
    ]
    rnd.shuffle(shards)
    merged = MetricsAggregator(GROUPINGS)
    for shard in shards:
        merged.merge(shard)
    assert MetricsAggregator(GROUPINGS).update(facts).report() == merged.report()


@given(facts_lists, st.lists(st.integers(0, 40), max_size=4), st.randoms(use_true_random=False))
def test_merges_and_paths_agree_when_groups_go_dense(
    facts: list[TicketFacts], cuts: list[int], rnd: random.Random
) -> None:
    """With groups going dense from three keys on (patched down from ~600): shards merged in any
    order, the per-fact loop and the numpy path all give the one-pass state."""
    from supportkit import _metrics

    with mock.patch.object(_metrics, "worth_dense", lambda keys, size: keys >= 3):
        bounds = sorted({0, len(facts), *(min(c, len(facts)) for c in cuts)})
        shards = [
            MetricsAggregator(PLAIN_GROUPINGS).update(facts[a:b], vectorise=False)
            for a, b in itertools.pairwise(bounds)
        ]
        rnd.shuffle(shards)
        merged = MetricsAggregator(PLAIN_GROUPINGS)
        for shard in shards:
            merged.merge(shard)
        one = MetricsAggregator(PLAIN_GROUPINGS).update(facts, vectorise=False)
        columns = MetricsAggregator(PLAIN_GROUPINGS).update_columns(facts_to_columns(facts))
        assert one.to_dict() == merged.to_dict() == columns.to_dict()
        assert one.report() == merged.report()


@given(facts_lists)
def test_update_takes_the_numpy_path_for_many_groupings_with_the_same_result(
    facts: list[TicketFacts],
) -> None:
    """update() with several groupings (numpy path by default) equals the per-fact loop."""
    auto = MetricsAggregator(PLAIN_GROUPINGS).update(facts)
    loop = MetricsAggregator(PLAIN_GROUPINGS).update(facts, vectorise=False)
    assert loop.to_dict() == auto.to_dict()


@given(facts_lists)
def test_vectorised_path_equals_streaming_path(facts: list[TicketFacts]) -> None:
    """update_columns builds the very state update builds (sketch and exact mode)."""
    for exact in (False, True):
        streamed = MetricsAggregator(PLAIN_GROUPINGS, exact=exact).update(facts, vectorise=False)
        columns = MetricsAggregator(PLAIN_GROUPINGS, exact=exact).update_columns(
            facts_to_columns(facts)
        )
        assert streamed.to_dict() == columns.to_dict()


@given(st.lists(st.integers(0, 10**10), min_size=1, max_size=300), st.floats(0, 1))
def test_sketch_quantile_is_within_the_relative_error_bound(values: list[int], q: float) -> None:
    """The sketch's quantile is within ALPHA (< 1 %) of the exact quantile of the same rank."""
    sketch, exact = QuantileSketch(), ExactQuantiles()
    sketch.extend(values)
    exact.extend(values)
    truth, estimate = exact.quantile(q), sketch.quantile(q)
    assert truth is not None
    assert estimate is not None
    assert abs(estimate - truth) <= ALPHA * truth + 1e-9
    assert ALPHA <= 0.01


@given(st.lists(st.lists(st.integers(0, 10**7), max_size=30), min_size=1, max_size=5))
def test_sketch_merge_equals_one_sketch(parts: list[list[int]]) -> None:
    """Merging sketches of parts gives exactly the sketch of the whole."""
    whole, merged = QuantileSketch(), QuantileSketch()
    whole.extend(v for part in parts for v in part)
    for part in parts:
        piece = QuantileSketch()
        piece.extend(part)
        merged.merge(piece)
    assert whole == merged


def test_sketch_memory_is_bounded() -> None:
    """A sketch spanning one second to a century uses at most ~1,100 buckets."""
    sketch = QuantileSketch()
    sketch.extend(int(1.01**i) for i in range(2200))  # 1 s .. ~4e9 s
    sketch.extend(range(1, 100_000, 7))
    assert len(sketch.buckets) <= 1_150


def _generated(n: int, seed: int) -> list[TicketFacts]:
    rnd = random.Random(seed)
    facts = []
    for i in range(n):
        created = rnd.randrange(0, 90 * DAY)
        solved = rnd.random() < 0.7
        reopens = rnd.choice([0, 0, 0, 1, 2])
        facts.append(
            TicketFacts(
                ticket_id=str(i),
                created_at=created,
                as_of=100 * DAY,
                status="solved" if solved else rnd.choice(["new", "open", "pending", "on_hold"]),
                channel=rnd.choice(["email", "chat"]),
                tier=rnd.choice(["free", "pro", "enterprise"]),
                solved_at=created + rnd.randrange(DAY) if solved else None,
                first_reply=rnd.randrange(0, 2 * DAY) if rnd.random() < 0.9 else None,
                full_resolution=rnd.randrange(0, 9 * DAY) if solved else None,
                agent_replies=rnd.randrange(0, 4),
                reopens=reopens,
                ever_solved=solved or reopens > 0,
                escalations=rnd.choice([(), (), (), ("L2",), ("L2", "engineering")]),
                csat=rnd.choice([None, "good", "good", "bad"]),
                nps=rnd.choice([None, *range(11)]),
                ces=rnd.choice([None, *range(1, 8)]),
            )
        )
    return facts


def test_vectorised_update_in_many_batches_equals_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunks and batches (codes re-mapped, rows shifted between them) change nothing."""
    from supportkit import _metrics

    monkeypatch.setattr(_metrics, "CHUNK", 7)
    monkeypatch.setattr(_metrics, "BATCH", 30)
    rnd = random.Random(3)
    facts = _generated(400, seed=3)
    facts += [
        TicketFacts(
            f"x{i}",
            i,
            10**6,
            "open",
            tier=rnd.choice(["a", "b"]),
            next_reply=(i, 5),
            escalations=("L2",) * (i % 2),
            sla=[("first_reply", i % 2, 1)],
        )
        for i in range(50)
    ]
    rnd.shuffle(facts)
    batched = MetricsAggregator(PLAIN_GROUPINGS).update(facts, vectorise=True)
    loop = MetricsAggregator(PLAIN_GROUPINGS).update(facts, vectorise=False)
    assert loop.to_dict() == batched.to_dict()


def test_figures_agree_with_pandas() -> None:
    """Per tier: counts, means, 'lower' quantiles (exact), CSAT and one-touch rate equal pandas'."""
    pd = pytest.importorskip("pandas")
    facts = _generated(3000, seed=7)
    frame = pd.DataFrame([f.to_dict() for f in facts])
    frame["one_touch"] = (frame["agent_replies"] == 1) & frame["solved_at"].notna()
    frame["good"] = frame["csat"] == "good"
    by = frame.groupby("tier")
    solved = frame[frame["solved_at"].notna()].groupby("tier")
    rated = frame[frame["csat"].notna()].groupby("tier")
    expected = pd.DataFrame(
        {
            "incoming": by.size(),
            "solved": solved.size(),
            "first_reply.mean": by["first_reply"].mean(),
            "first_reply.median": by["first_reply"].quantile(0.5, interpolation="lower"),
            "first_reply.p90": by["first_reply"].quantile(0.9, interpolation="lower"),
            "full_resolution.p95": solved["full_resolution"].quantile(0.95, interpolation="lower"),
            "csat": rated["good"].mean(),
            "one_touch_rate": solved["one_touch"].sum() / solved.size(),
        }
    )
    report = MetricsAggregator(["tier"], exact=True).update(facts).report()
    actual = report.to_pandas("tier").set_index("tier")[expected.columns]
    pd.testing.assert_frame_equal(expected.astype(float), actual.astype(float), check_names=False)


def _frame(facts: list[TicketFacts]) -> Any:
    import pandas as pd

    frame = pd.DataFrame([f.to_dict() for f in facts])
    frame["is_solved"] = frame["solved_at"].notna()
    frame["escalated"] = frame["escalations"].map(len) > 0
    frame["backlog"] = ~frame["is_solved"]  # no merged tickets in the generated data
    frame["backlog_age"] = (frame["as_of"] - frame["created_at"]).where(frame["backlog"])
    return frame


def test_rates_surveys_and_backlog_agree_with_pandas() -> None:
    """Per tier: reopen, first-contact and escalation rates, NPS, CES and backlog age equal
    pandas' on the same generated facts (exact mode)."""
    pd = pytest.importorskip("pandas")
    facts = _generated(3000, seed=13)
    frame = _frame(facts)
    frame["reopened"] = frame["ever_solved"] & (frame["reopens"] > 0)
    frame["fcr"] = (
        frame["is_solved"]
        & (frame["agent_replies"] <= 1)
        & (frame["reopens"] == 0)
        & ~frame["escalated"]
    )
    frame["l2"] = frame["escalations"].map(lambda levels: "L2" in levels)
    frame["promoter"] = frame["nps"] >= 9
    frame["detractor"] = frame["nps"] <= 6
    by = frame.groupby("tier")
    rated = frame[frame["nps"].notna()].groupby("tier")
    backlog = frame[frame["backlog"]].groupby("tier")
    expected = pd.DataFrame(
        {
            "reopen_rate": by["reopened"].sum() / by["ever_solved"].sum(),
            "first_contact_resolution_rate": by["fcr"].sum() / by["is_solved"].sum(),
            "escalation_rate": by["escalated"].mean(),
            "escalation_rate.L2": by["l2"].mean(),
            "nps": 100 * (rated["promoter"].sum() - rated["detractor"].sum()) / rated.size(),
            "nps_responses": rated.size(),
            "ces": by["ces"].mean(),
            "backlog": backlog.size(),
            "backlog_age.mean": backlog["backlog_age"].mean(),
            "backlog_age.median": backlog["backlog_age"].quantile(0.5, interpolation="lower"),
            "backlog_age.p90": backlog["backlog_age"].quantile(0.9, interpolation="lower"),
        }
    )
    report = MetricsAggregator(["tier"], exact=True).update(facts).report()
    actual = report.to_pandas("tier").set_index("tier")[expected.columns]
    pd.testing.assert_frame_equal(expected.astype(float), actual.astype(float), check_names=False)


def test_a_period_grouping_agrees_with_pandas() -> None:
    """Per UTC day: incoming counts by creation day, solved counts and resolution means by
    solve day, as pandas computes them."""
    pd = pytest.importorskip("pandas")
    facts = _generated(3000, seed=17)
    frame = _frame(facts)

    def day(column: str) -> Any:
        return pd.to_datetime(frame[column], unit="s", utc=True).dt.strftime("%Y-%m-%d")

    frame["created_day"], frame["solved_day"] = day("created_at"), day("solved_at")
    solved = frame[frame["is_solved"]].groupby("solved_day")
    expected = pd.DataFrame(
        {
            "incoming": frame.groupby("created_day").size(),
            "first_reply.mean": frame.groupby("created_day")["first_reply"].mean(),
            "solved": solved.size(),
            "full_resolution.mean": solved["full_resolution"].mean(),
        }
    ).fillna({"incoming": 0, "solved": 0})
    report = MetricsAggregator(["day"], exact=True).update(facts).report()
    actual = report.to_pandas("day").set_index("day")[expected.columns]
    pd.testing.assert_frame_equal(expected.astype(float), actual.astype(float), check_names=False)


def test_sketch_medians_are_within_one_percent_of_pandas() -> None:
    """In sketch mode, medians and p90 per tier are within 1 % of pandas' exact 'lower' ones."""
    pd = pytest.importorskip("pandas")
    facts = _generated(3000, seed=11)
    frame = pd.DataFrame([f.to_dict() for f in facts])
    truth = frame.groupby("tier")["first_reply"].quantile([0.5, 0.9], interpolation="lower")
    report = MetricsAggregator(["tier"]).update(facts).report()
    for row in report.table("tier"):
        for q, name in ((0.5, "median"), (0.9, "p90")):
            exact = truth[(row.key[0], q)]
            assert abs(row[f"first_reply.{name}"] - exact) <= 0.01 * exact  # type: ignore[operator]
