"""supportkit.staffing against published Erlang tables, exact arithmetic and simulation."""

from __future__ import annotations

import heapq
import math
import random
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportkit import ConfigurationError
from supportkit import staffing as s


def exact_erlang_c(traffic: Fraction, agents: int) -> Fraction:
    """Erlang C from its textbook definition with factorials, in exact rational arithmetic."""
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    below = sum(traffic**k / math.factorial(k) for k in range(agents))
    return top / (below + top)


# Erlang B table, 1 % grade of service: the offered traffic (Erlangs) that N trunks carry at
# 1 % blocking, as printed in every traffic-engineering table (e.g. the Erlang B table of
# ITU-T's Teletraffic Engineering Handbook, 2005, table in chapter 4; Wikipedia "Erlang (unit)").
ERLANG_B_1_PERCENT = [(1, 0.0101), (2, 0.153), (5, 1.36), (10, 4.46), (20, 12.0), (50, 37.9)]


@pytest.mark.parametrize(("agents", "traffic"), ERLANG_B_1_PERCENT)
def test_erlang_b_matches_the_published_one_percent_table(agents: int, traffic: float) -> None:
    """At the table's traffic, blocking is 1 % to the table's three significant figures."""
    assert 0.0095 < s.erlang_b(traffic, agents) < 0.0105


def test_erlang_c_matches_call_centre_helper_worked_example() -> None:
    """Call Centre Helper's worked Erlang C example: 100 calls per 30 minutes, 180 s handling
    (10 Erlangs), 14 agents: 17.41 % of calls wait and 14 agents meet 80 % within 20 s."""
    assert round(s.erlang_c(10, 14), 4) == 0.1741
    assert s.agents_needed(100 / 1800, 180, 0.8, 20) == 14
    assert (
        s.service_level(100 / 1800, 180, 13, 20) < 0.8 <= s.service_level(100 / 1800, 180, 14, 20)
    )


@given(
    st.integers(min_value=1, max_value=60),
    st.fractions(min_value=Fraction(1, 100), max_value=Fraction(59, 1), max_denominator=100),
)
def test_erlang_c_equals_the_factorial_definition(agents: int, traffic: Fraction) -> None:
    """The recursion agrees with the factorial formula, computed exactly, to 1e-12."""
    if traffic >= agents:
        assert s.erlang_c(float(traffic), agents) == 1.0
        return
    assert s.erlang_c(float(traffic), agents) == pytest.approx(
        float(exact_erlang_c(traffic, agents)), rel=1e-9, abs=1e-12
    )


def test_large_traffic_does_not_overflow() -> None:
    """5,000 agents at 4,900 Erlangs: factorials would overflow floats, the recursion does not."""
    waiting = s.erlang_c(4900, 5000)
    assert 0 < waiting < 1
    assert s.agents_needed(4900 / 300, 300, 0.8, 20) > 4900


def test_overloaded_queue() -> None:
    """With agents <= traffic everybody waits, nobody is answered in time, waits are endless."""
    assert s.erlang_c(10, 10) == 1.0
    assert s.service_level(1 / 10, 100, 10, 20) == 0.0
    assert s.average_speed_of_answer(1 / 10, 100, 9) == math.inf
    assert s.occupancy(1 / 10, 100, 5) == 1.0


def test_timedelta_and_seconds_are_the_same() -> None:
    """Times may be timedelta objects."""
    assert s.service_level(0.05, timedelta(minutes=3), 14, timedelta(seconds=20)) == (
        s.service_level(0.05, 180, 14, 20)
    )


def test_agents_needed_honours_max_occupancy() -> None:
    """Capping occupancy at 85 % needs at least traffic / 0.85 agents."""
    plain = s.agents_needed(1.0, 100, 0.5, 60)
    capped = s.agents_needed(1.0, 100, 0.5, 60, max_occupancy=0.85)
    assert capped >= math.ceil(100 / 0.85) > plain


@given(
    st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), min_size=1, max_size=8),
    st.floats(min_value=0.5, max_value=0.99),
)
def test_batch_equals_scalar(rates: list[float], target: float) -> None:
    """agents_needed_many gives agents_needed's answer for every interval."""
    expected = [s.agents_needed(r, 240, target, 30) for r in rates]
    assert expected == s.agents_needed_many(rates, 240, target, 30)


def test_shrinkage() -> None:
    """30 % shrinkage turns 10 agents into 15 scheduled; 7 at 30 % into exactly 10."""
    assert s.with_shrinkage(10, 0.3) == 15
    assert s.with_shrinkage(7, 0.3) == 10
    assert s.with_shrinkage(7, 0) == 7


@pytest.mark.parametrize(
    "call",
    [
        lambda: s.erlang_c(-1, 3),
        lambda: s.erlang_c(float("nan"), 3),
        lambda: s.erlang_c(1, -3),
        lambda: s.erlang_c(1, 2.5),
        lambda: s.erlang_c("1", 3),
        lambda: s.service_level(1, 0, 3, 20),
        lambda: s.agents_needed(1, 10, 0, 20),
        lambda: s.agents_needed(1, 10, 1.5, 20),
        lambda: s.with_shrinkage(3, 1),
        lambda: s.erlang_a(1, 10, 0, 30),
        lambda: s.erlang_a(1, 10, 3, 0),
    ],
)
def test_bad_input_is_a_configuration_error(call) -> None:  # type: ignore[no-untyped-def]
    """Negative, non-finite, wrong-type and out-of-range arguments are refused by name."""
    with pytest.raises(ConfigurationError):
        call()


@pytest.mark.parametrize(
    ("arrival_rate", "aht", "agents", "patience"),
    [(5e-324, 1, 5, 5e-324), (5e-324, 1, 1, 1e-300), (1e-300, 1e-10, 1000, 1e-10)],
)
def test_erlang_a_at_the_edges_of_floats(
    arrival_rate: float, aht: float, agents: int, patience: float
) -> None:
    """A load so small that a ratio underflows to 0 raised ValueError (math domain error) and a
    patience near 0 gave a NaN abandonment (found by the full fuzz run): now the model is
    solved in logs, and such a load has nobody waiting."""
    model = s.erlang_a(arrival_rate, aht, agents, patience)
    assert 0.0 <= model.p_wait < 1e-12
    assert 0.0 <= model.p_abandon < 1e-12  # not NaN
    assert 0.0 <= model.asa < 1e-12


@given(
    st.floats(min_value=5e-324, max_value=1.7e308),
    st.floats(min_value=5e-324, max_value=1.7e308),
    st.integers(1, 1000),
    st.floats(min_value=5e-324, max_value=1.7e308),
)
def test_erlang_a_is_a_probability_model_or_a_clear_refusal(
    arrival_rate: float, aht: float, agents: int, patience: float
) -> None:
    """For any finite positive inputs Erlang A either refuses with ConfigurationError or gives
    probabilities in [0, 1] and a waiting time >= 0 (no NaN, no domain error)."""
    try:
        model = s.erlang_a(arrival_rate, aht, agents, patience)
        level = model.service_level(20)
    except ConfigurationError:
        return
    for p in (level, model.p_wait, model.p_abandon, model.occupancy):
        assert 0.0 <= p <= 1.0
    assert model.asa >= 0.0


def test_erlang_a_without_abandonment_is_erlang_c() -> None:
    """With endless patience Erlang A is Erlang C (waiting probability and service level)."""
    model = s.erlang_a(100 / 1800, 180, 14, 1e9)
    assert model.p_wait == pytest.approx(s.erlang_c(10, 14), rel=1e-6)
    assert model.service_level(20) == pytest.approx(s.service_level(100 / 1800, 180, 14, 20), 1e-6)
    assert model.p_abandon < 1e-6


def simulate_mmc_m(rate: float, aht: float, agents: int, patience: float, n: int, seed: int):
    """An independent discrete-event simulation of M/M/c+M: (waited, abandoned, in 20 s)."""
    rng = random.Random(seed)
    free_at = [0.0] * agents  # FIFO queue served by the first agent to free up
    heapq.heapify(free_at)
    t = 0.0
    waited = abandoned = quick = 0
    # FIFO with abandonment: a contact is served at max(arrival, earliest free agent) unless its
    # patience runs out first; abandoned contacts do not hold an agent.
    for _ in range(n):
        t += rng.expovariate(rate)
        limit = rng.expovariate(1 / patience)
        start = max(t, free_at[0])
        if start > t:
            waited += 1
        if start - t > limit:
            abandoned += 1
            continue
        if start - t <= 20:
            quick += 1
        heapq.heapreplace(free_at, start + rng.expovariate(1 / aht))
    return waited / n, abandoned / n, quick / n


def test_erlang_a_agrees_with_a_simulation() -> None:
    """Chat at 10 Erlangs, 11 agents, 60 s mean patience: the model's waiting, abandonment and
    service level are within 1.5 points of 400,000 simulated contacts."""
    model = s.erlang_a(100 / 1800, 180, 11, 60)
    waited, abandoned, quick = simulate_mmc_m(100 / 1800, 180, 11, 60, 400_000, seed=7)
    assert abs(model.p_wait - waited) < 0.015
    assert abs(model.p_abandon - abandoned) < 0.015
    assert abs(model.service_level(20) - quick) < 0.015


def test_concurrency_divides_the_slots_among_agents() -> None:
    """Chat agents working three chats at once: the slots Erlang C needs, divided by three and
    rounded up; one at a time it is the plain answer."""
    slots = s.agents_needed(0.2, 300, 0.8, 30)
    assert slots == s.agents_needed(0.2, 300, 0.8, 30, concurrency=1)
    assert math.ceil(slots / 3) == s.agents_needed(0.2, 300, 0.8, 30, concurrency=3)
    with pytest.raises(ConfigurationError):
        s.agents_needed(0.2, 300, 0.8, 30, concurrency=0)


# pyworkforce 0.5.1 (PyPI), pyworkforce/queuing/tests/test_erlang.py: 100 transactions in a
# 30-minute interval, handling time 3 min, answer within 0.33 min (19.8 s), 30 % shrinkage,
# 80 % service level: raw positions, positions after shrinkage, service level, occupancy and
# waiting probability to three decimals, at two occupancy ceilings.
@pytest.mark.parametrize(
    ("max_occupancy", "raw", "after_shrinkage", "level", "busy", "waits"),
    [(0.85, 14, 20, 0.888, 0.714, 0.174), (0.7, 15, 22, 0.941, 0.667, 0.102)],
)
def test_agrees_with_pyworkforce_erlang_c_cases(
    max_occupancy: float, raw: int, after_shrinkage: int, level: float, busy: float, waits: float
) -> None:
    rate, aht, within = 100 / 1800, 180, 0.33 * 60
    agents = s.agents_needed(rate, aht, 0.8, within, max_occupancy=max_occupancy)
    assert (raw, after_shrinkage) == (agents, s.with_shrinkage(agents, 0.3))
    assert level == round(s.service_level(rate, aht, agents, within), 3)
    assert busy == round(s.occupancy(rate, aht, agents), 3)
    assert waits == round(s.erlang_c(rate * aht, agents), 3)


# A published Erlang C table ("Table C", appendix A.3 of a textbook on TETRA trunked radio,
# reproduced as Scribd document 831962299) and its worked example: 8 channels delay 5 % of
# calls at A = 3.87 Erlangs, 10 channels delay 1 % at A = 4.08; a queued call waits beyond the
# mean holding time with probability exp(-(C - A)): 0.016 for 8 channels at 3.87 and 0.0022
# for 10 channels at about the same traffic (3.87).
@pytest.mark.parametrize(("agents", "traffic", "delayed"), [(8, 3.87, 0.05), (10, 4.08, 0.01)])
def test_erlang_c_matches_the_published_table(agents: int, traffic: float, delayed: float) -> None:
    """At the table's traffic, the probability of delay is the table's, to its precision."""
    assert round(s.erlang_c(traffic, agents), 3 if delayed < 0.05 else 2) == delayed


@pytest.mark.parametrize(("agents", "beyond"), [(8, 0.016), (10, 0.0022)])
def test_queued_waits_beyond_the_holding_time_match_the_worked_example(
    agents: int, beyond: float
) -> None:
    """The share of all contacts waiting beyond T, divided by the share that waits at all, is
    the table's conditional probability (service_level's exponential tail)."""
    rate, aht = 3.87 / 300, 300
    waits = s.erlang_c(3.87, agents)
    late = 1 - s.service_level(rate, aht, agents, within=aht)
    assert round(late / waits, len(str(beyond)) - 2) == beyond
